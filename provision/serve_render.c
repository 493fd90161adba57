/* The server's render hook: kickfleet's renderer (provision/render.h) for
 * one host, after "installed" or a reinstall. */
#include <errno.h>

#include "provision/render.h"
#include "provision/serve.h"

int kf_serve_render_default(struct kf_serve *s, const struct kf_inventory *inv, const char *host,
			    bool force, bool *need_hup, struct kf_err *e)
{
	struct kf_render_opts ro = { .outdir = kf_serve_outdir(s), .force = force };
	struct kf_state *st = kf_serve_state(s, e);
	if (!st)
		return -EIO;
	return kf_render_host(inv, st, &ro, host, need_hup, e);
}
