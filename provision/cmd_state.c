/* kickfleet state migrate|check|export|import: the state store's schema
 * and health, and moving a fleet's state between stores (docs/state.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "provision/cmd.h"
#include "provision/render.h"
#include "provision/state.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: kickfleet state migrate [-f FLEET] [-o DIR]\n"
	      "       kickfleet state check   [-f FLEET] [-o DIR]\n"
	      "       kickfleet state export  [-f FLEET] [-o DIR] [--json]\n"
	      "       kickfleet state import  [-f FLEET] [-o DIR] [FILE]\n"
	      "\n"
	      "The inventory's state store (state: in the fleet file: SQLite by default,\n"
	      "or PostgreSQL).  migrate brings its schema to this kickfleet's version;\n"
	      "check runs the engine's integrity check (SQLite), reads every row and\n"
	      "checks the host rows, printing each problem (exit 1 when there is one);\n"
	      "export writes every row of it to standard output (one JSON object a\n"
	      "line, or one document with --json); import reads such a dump from FILE\n"
	      "(default standard input) into an empty store, all or nothing.\n"
	      "To move a fleet to PostgreSQL: export with the old inventory, add\n"
	      "state: {backend: postgresql, dsn_file: FILE}, import.\n"
	      "\n"
	      "  -f, --fleet FILE   inventory (default " KF_DEFAULT_FLEET ")\n"
	      "  -o, --output DIR   the directory given to kickfleet render -o (SQLite)\n"
	      "      --json         export one JSON document\n"
	      "  -h, --help         this help\n",
	      f);
}

static int migrate(struct kf_state *st, const char *where)
{
	int was, now;
	kf_state_schema(st, &was, &now);
	if (was == now)
		printf("state %s (%s): schema version %d, current\n", where, kf_state_backend(st), now);
	else
		printf("state %s (%s): schema version %d (was %d)\n", where, kf_state_backend(st), now,
		       was);
	return 0;
}

static int check(struct kf_state *st, const char *where, struct kf_err *e)
{
	struct kf_buf problems = KF_BUF_INIT;
	size_t rows = 0;
	int n = kf_state_check(st, &problems, &rows, e);
	if (problems.len)
		fputs(problems.s, stdout);
	if (n == 0)
		printf("state %s (%s): ok, %zu rows\n", where, kf_state_backend(st), rows);
	else if (n > 0)
		n = kf_errc(e, -EIO, NULL, "state %s (%s): %d problem%s", where, kf_state_backend(st), n,
			    n == 1 ? "" : "s");
	kf_buf_release(&problems);
	return n;
}

static int import(struct kf_state *st, const char *where, const char *file, struct kf_err *e)
{
	char *text = NULL;
	size_t len = 0, rows = 0;
	int r = kf_read_file(file ? file : "/dev/stdin", (size_t)1 << 32, &text, &len);
	if (r < 0)
		return kf_errc(e, r, NULL, "state import: %s: %s", file ? file : "standard input",
			       strerror(-r));
	r = kf_state_import(st, text, len, &rows, e);
	free(text);
	if (r == 0)
		printf("state %s (%s): imported %zu rows\n", where, kf_state_backend(st), rows);
	return r;
}

int cmd_state(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fleet", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *fleet = KF_DEFAULT_FLEET, *outdir = NULL;
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fleet = optarg; break;
		case 'o': outdir = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	const char *verb = optind < argc ? argv[optind] : "";
	int nargs = argc - optind - 1;
	bool ok = ((!strcmp(verb, "migrate") || !strcmp(verb, "check")) && nargs == 0 && !json) ||
		  (!strcmp(verb, "export") && nargs == 0) ||
		  (!strcmp(verb, "import") && nargs <= 1 && !json);
	if (!ok) {
		usage(stderr);
		return 1;
	}
	struct kf_err e = KF_ERR_INIT;
	struct kf_inventory *inv = NULL;
	struct kf_state *st = NULL;
	char *where = NULL;
	int r = kf_inventory_load(&inv, fleet, &e);
	if (r < 0)
		goto out;
	where = kf_render_state_path(inv, outdir);
	if (!strcmp(verb, "check") && !kf_state_exists(where)) {
		r = kf_errc(&e, -ENOENT, NULL, "state %s: no store there (kickfleet render makes it)",
			    where);
		goto out;
	}
	if ((r = kf_state_open(&st, where, &e)) < 0)
		goto out;
	if (!strcmp(verb, "migrate"))
		r = migrate(st, where);
	else if (!strcmp(verb, "check"))
		r = check(st, where, &e);
	else if (!strcmp(verb, "export"))
		r = kf_state_export(st, stdout, json ? KF_DUMP_JSON : KF_DUMP_LINES, &e);
	else
		r = import(st, where, nargs ? argv[optind + 1] : NULL, &e);
out:
	if (r < 0)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	kf_state_close(st);
	free(where);
	kf_inventory_free(inv);
	return r < 0 ? 1 : 0;
}
