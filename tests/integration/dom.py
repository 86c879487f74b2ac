#!/usr/bin/env python3
"""dom.py: read a DOM that headless Chromium dumped (--dump-dom) and print parts of it.

Used by tests/integration/browser.sh (dom_text, dom_attr, dom_rows, dom_each).  Chromium
serializes the live DOM, so every non-void element is closed; the small tree builder below
relies on that and only tolerates stray end tags.  Standard library only.

  dom.py text FILE ID             whitespace-collapsed text of the element with that id
  dom.py attr FILE ID ATTR        the attribute's value (exit 1 if the element or attribute is absent)
  dom.py rows FILE TABLE_ID       one line per <tr data-name=...> in the table's <tbody>:
                                  NAME<TAB>the collapsed text of each cell, joined by " | "
  dom.py each FILE ID ATTR        one line per element under ID that carries ATTR:
                                  VALUE<TAB>its collapsed text

Text inside <script> and <style> is never part of an element's text.  Exit 2 on usage errors,
1 when the element is not found.
"""

import signal
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "param", "source", "track", "wbr"}
HIDDEN_TEXT = {"script", "style", "template"}


class Node:
    __slots__ = ("tag", "attrs", "kids", "parent")

    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.kids = []
        self.parent = parent


class Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [], None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, [(k, v if v is not None else "") for k, v in attrs], self.cur)
        self.cur.kids.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.kids.append(Node(tag, [(k, v or "") for k, v in attrs], self.cur))

    def handle_endtag(self, tag):
        # Close up to the nearest open element of that name; ignore an end tag nothing matches.
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.kids.append(data)


def walk(node):
    """Every element under node (node included), in document order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(k for k in reversed(n.kids) if isinstance(k, Node))


def text(node):
    parts = []

    def rec(n):
        for k in n.kids:
            if isinstance(k, str):
                parts.append(k)
            elif k.tag not in HIDDEN_TEXT:
                rec(k)
    rec(node)
    return " ".join("".join(parts).split())


def by_id(root, ident):
    for n in walk(root):
        if n.attrs.get("id") == ident:
            return n
    return None


def row_text(tr):
    return " | ".join(text(td) for td in tr.kids if isinstance(td, Node) and td.tag in ("td", "th"))


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    cmd, path, ident = argv[1], argv[2], argv[3]
    b = Builder()
    with open(path, encoding="utf-8", errors="replace") as f:
        b.feed(f.read())
    b.close()
    node = by_id(b.root, ident)
    if node is None:
        return 1
    if cmd == "text" and len(argv) == 4:
        print(text(node))
    elif cmd == "attr" and len(argv) == 5:
        if argv[4] not in node.attrs:
            return 1
        print(node.attrs[argv[4]])
    elif cmd == "rows" and len(argv) == 4:
        for body in (n for n in walk(node) if n.tag == "tbody"):
            for tr in body.kids:
                if isinstance(tr, Node) and tr.tag == "tr" and "data-name" in tr.attrs:
                    print(tr.attrs["data-name"] + "\t" + row_text(tr))
    elif cmd == "each" and len(argv) == 5:
        for n in walk(node):
            if n is not node and argv[4] in n.attrs:
                print(n.attrs[argv[4]] + "\t" + text(n))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    sys.exit(main(sys.argv))
