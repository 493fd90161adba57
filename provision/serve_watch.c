/* kickfleet serve on a shared PostgreSQL store: a thread that waits on
 * the store's notice channel (no polling) and, when another instance or
 * command changed a host's install state, netboot flag or token, drops
 * the token caches and re-renders that host's boot files here. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "provision/serve.h"
#include "util.h"

struct kf_serve_watch {
	struct kf_serve *s;
	struct kf_state *st; /* a handle of its own, LISTENing */
	int stop[2];         /* a pipe: readable when the thread must end */
	pthread_t thread;
};

static void rerender_all(struct kf_serve *s, const struct kf_inventory *inv)
{
	for (size_t i = 0; i < inv->hosts.n; i++)
		kf_serve_rerender_forced(s, inv, KF_LIST_AT(inv->hosts, struct kf_i_host, i)->name);
	for (size_t i = 0; i < inv->guests.n; i++)
		kf_serve_rerender_forced(s, inv, KF_LIST_AT(inv->guests, struct kf_i_guest, i)->name);
}


static void on_change(void *ctx, const char *host)
{
	struct kf_serve *s = ctx;
	kf_serve_wrote(s);
	const struct kf_inventory *inv = kf_serve_inv_get(s);
	if (!host) {
		kf_log(KF_LOG_WARN, "serve: state notices may have been missed (reconnected): "
				    "re-rendering the boot files of every host");
		rerender_all(s, inv);
	} else if (kf_inventory_name_here(inv, host)) {
		kf_log(KF_LOG_DEBUG, "serve: %s changed on another instance", host);
		kf_serve_rerender_forced(s, inv, host);
	}
	kf_serve_inv_put(s);
	kf_serve_wrote(s);
}

/* 1 when told to stop, 0 when fd is readable (or timeout_ms passed). */
static int wait_for(struct kf_serve_watch *w, int fd, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = w->stop[0], .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	while (poll(p, fd >= 0 ? 2 : 1, timeout_ms) < 0)
		if (errno != EINTR)
			return 1;
	return (p[0].revents & POLLIN) != 0;
}

static void *watch_main(void *arg)
{
	struct kf_serve_watch *w = arg;
	bool down = false;
	for (;;) {
		struct kf_err e = KF_ERR_INIT;
		int fd = kf_state_watch(w->st, &e);
		if (fd >= 0 && kf_state_changes(w->st, on_change, w->s, &e) < 0)
			fd = -1; /* lost: watch connects again */
		if (fd < 0 && !down) {
			kf_log(KF_LOG_ERR, "serve: not hearing state changes (trying again every second):");
			kf_err_print(&e, stderr);
		} else if (fd >= 0 && down) {
			kf_log(KF_LOG_INFO, "serve: hearing state changes again");
		}
		down = fd < 0;
		kf_err_release(&e);
		if (wait_for(w, fd, fd < 0 ? 1000 : -1))
			break;
	}
	return NULL;
}

int kf_serve_watch_start(struct kf_serve *s, const char *where, struct kf_serve_watch **out,
			 struct kf_err *e)
{
	*out = NULL;
	struct kf_serve_watch *w = kf_xcalloc(1, sizeof(*w));
	w->s = s;
	w->stop[0] = w->stop[1] = -1;
	int r = kf_state_open(&w->st, where, e);
	if (r == 0 && (r = kf_state_watch(w->st, NULL)) == -EOPNOTSUPP) {
		kf_state_close(w->st); /* SQLite: one host, nothing to hear */
		free(w);
		return 0;
	}
	if (r >= 0 && pipe2(w->stop, O_CLOEXEC) < 0)
		r = kf_errc(e, -errno, NULL, "serve: pipe: %s", strerror(errno));
	if (r >= 0 && (r = -pthread_create(&w->thread, NULL, watch_main, w)) < 0)
		kf_errc(e, r, NULL, "serve: cannot start the state watcher: %s", strerror(-r));
	if (r < 0) {
		kf_state_close(w->st);
		if (w->stop[0] >= 0) {
			close(w->stop[0]);
			close(w->stop[1]);
		}
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

void kf_serve_watch_stop(struct kf_serve_watch *w)
{
	if (!w)
		return;
	if (write(w->stop[1], "x", 1) < 0)
		kf_log(KF_LOG_ERR, "serve: cannot stop the state watcher: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	close(w->stop[0]);
	close(w->stop[1]);
	kf_state_close(w->st);
	free(w);
}
