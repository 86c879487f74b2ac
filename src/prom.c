/* prom.c: the Prometheus text format as the prober's textfile and the responders' document write it. */
#include <stdio.h>

#include "deephealth.h"

void
prom_help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

void
prom_build_info(FILE *f, const char *program)
{
	prom_help(f, "deephealth_build_info", "gauge",
	          "Always 1: the program that wrote these metrics and its version.");
	fprintf(f, "deephealth_build_info{program=\"%s\",version=\"%s\"} 1\n", program, DH_VERSION);
}

void
prom_stateset(FILE *f, const char *name, const char *labels, const char *const *states,
              int current)
{
	for (int i = 0; states[i] != NULL; i++)
		fprintf(f, "%s{%s%sstate=\"%s\"} %d\n", name, labels, labels[0] ? "," : "", states[i],
		        i == current);
}
