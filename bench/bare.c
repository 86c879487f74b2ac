/* bare.c: the baseline: a libfcgi responder that answers a constant 200 and nothing else. */
#include <fcgiapp.h>
#include <string.h>

int
main(void)
{
	static const char resp[] = "Status: 200 OK\r\nContent-Type: text/plain\r\n"
	                           "Cache-Control: no-store\r\nContent-Length: 5\r\n\r\npass\n";
	FCGX_Request req;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(resp, (int)sizeof(resp) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
