/* The hub: one thread that turns state changes into server-sent events.
 * It wakes when the server changes the store (kf_api_poke, from
 * kf_serve_wrote) and every POLL_MS for changes by other processes
 * (`kickfleet netboot`, render), reads the events logged since it last
 * looked, refreshes those hosts in the snapshot and sends every connected
 * stream, for each: "event: host" (the host as the API lists it),
 * "event: log" (the event itself), then one "event: summary".  More
 * events than one look reads (BATCH) make it reload the whole snapshot
 * and send "event: reload".  The whole snapshot is read again every
 * RELOAD_S seconds for what changes without an event (a report that
 * keeps the state, facts).  A stream whose client does not read is ended
 * when MAX_QUEUED bytes wait for it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "provision/api.h"
#include "provision/serve.h"

#define POLL_MS 250
#define BATCH 512
#define RELOAD_S 5
#define KEEPALIVE_S 15
#define MAX_QUEUED (1024 * 1024)

struct client {
	struct kf_httpd_stream *st;
	char *host; /* NULL: every host */
	struct client *next;
};

struct kf_hub {
	struct kf_serve *s;
	struct kf_fleet *fleet;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t pokes, seen;
	bool stop, running;
	struct client *clients;
	int64_t last_id;
	time_t reloaded, kept_alive;
};

void kf_hub_poke(struct kf_hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->pokes++;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* "event: NAME\ndata: JSON\n\n" into b; takes v. */
static void sse(struct kf_buf *b, const char *name, struct kf_json *v)
{
	char *text = kf_json_dump(v, KF_JSON_PLAIN);
	kf_json_free(v);
	kf_buf_printf(b, "event: %s\ndata: %s\n\n", name, text);
	free(text);
}

/* Sends text to every client (host: only those watching it or all);
 * drops the clients that are gone.  With h->mu held. */
static void broadcast(struct kf_hub *h, const char *host, const char *text, size_t len)
{
	for (struct client **p = &h->clients; *p;) {
		struct client *c = *p;
		if (host && c->host && strcmp(c->host, host)) {
			p = &c->next;
			continue;
		}
		if (kf_httpd_stream_send(c->st, text, len, MAX_QUEUED) < 0) {
			*p = c->next;
			kf_httpd_stream_close(c->st);
			free(c->host);
			free(c);
			continue;
		}
		p = &c->next;
	}
}

static void send_all(struct kf_hub *h, const char *host, struct kf_buf *b)
{
	if (!b->len)
		return;
	pthread_mutex_lock(&h->mu);
	broadcast(h, host, b->s, b->len);
	pthread_mutex_unlock(&h->mu);
	kf_buf_release(b);
}

static struct kf_json *event_json(const struct kf_event *ev)
{
	struct kf_json *o = kf_json_object();
	kf_json_set(o, "id", kf_json_int(ev->id));
	kf_json_set(o, "time", kf_json_int(ev->time));
	kf_json_set(o, "host", kf_json_str(ev->host));
	kf_json_set(o, "what", kf_json_str(ev->what));
	kf_json_set(o, "detail", kf_json_str(ev->detail));
	return o;
}

/* One host changed: its view again, its event, to its watchers. */
static void host_changed(struct kf_hub *h, const struct kf_event *ev, bool refresh, bool *reload)
{
	struct kf_buf b = KF_BUF_INIT;
	struct kf_api_host v;
	struct kf_err e = KF_ERR_INIT;
	if (refresh && kf_fleet_refresh(h->fleet, h->s, ev->host, !strcmp(ev->what, "power"), &e) == 1)
		*reload = true;
	kf_err_release(&e);
	if (refresh && kf_fleet_get(h->fleet, ev->host, &v) == 0) {
		sse(&b, "host", kf_api_host_json(&v));
		kf_api_host_release(&v);
	}
	sse(&b, "log", event_json(ev));
	send_all(h, ev->host, &b);
}

static void reload_all(struct kf_hub *h, bool tell)
{
	struct kf_err e = KF_ERR_INIT;
	if (kf_fleet_reload(h->fleet, h->s, &e) < 0)
		kf_err_print(&e, stderr);
	kf_err_release(&e);
	h->reloaded = time(NULL);
	if (tell) {
		struct kf_buf b = KF_BUF_INIT;
		sse(&b, "reload", kf_json_object());
		send_all(h, NULL, &b);
	}
}

/* Reads the events since the last look; 1 when there were some. */
static int look(struct kf_hub *h)
{
	struct kf_state *st = kf_serve_state(h->s, NULL);
	struct kf_event *ev = NULL;
	size_t n = 0;
	if (!st || kf_state_list_events(st, NULL, BATCH, &ev, &n, NULL) < 0)
		return 0;
	size_t first = n;
	for (size_t i = 0; i < n; i++)
		if (ev[i].id > h->last_id) {
			first = i;
			break;
		}
	bool reload = first == 0 && n == BATCH && h->last_id > 0;
	if (reload) {
		reload_all(h, true);
	} else {
		for (size_t i = first; i < n; i++) {
			/* a host's latest event of this batch refreshes it */
			bool latest = true;
			for (size_t j = i + 1; j < n && latest; j++)
				latest = strcmp(ev[j].host, ev[i].host) != 0;
			host_changed(h, &ev[i], latest, &reload);
		}
		if (reload)
			reload_all(h, false);
	}
	if (n)
		h->last_id = ev[n - 1].id;
	kf_events_free(ev, n);
	return first < n;
}

static void summary(struct kf_hub *h)
{
	struct kf_buf b = KF_BUF_INIT;
	sse(&b, "summary", kf_api_summary_json(h->fleet));
	send_all(h, NULL, &b);
}

static void *hub_main(void *arg)
{
	struct kf_hub *h = arg;
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		if (h->pokes == h->seen) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += POLL_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&h->cv, &h->mu, &ts);
			if (h->stop)
				break;
		}
		h->seen = h->pokes;
		pthread_mutex_unlock(&h->mu);
		bool changed = look(h) > 0;
		time_t now = time(NULL);
		if (now - h->reloaded >= RELOAD_S) {
			reload_all(h, false);
			changed = true;
		}
		if (changed)
			summary(h);
		if (now - h->kept_alive >= KEEPALIVE_S) {
			h->kept_alive = now;
			pthread_mutex_lock(&h->mu);
			broadcast(h, NULL, ": keepalive\n\n", 14);
			pthread_mutex_unlock(&h->mu);
		}
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

void kf_hub_attach(struct kf_hub *h, struct kf_httpd_req *rq, const char *host)
{
	struct kf_httpd_stream *st = NULL;
	kf_httpd_add_header(rq, "Cache-Control", "no-store");
	kf_httpd_add_header(rq, "X-Accel-Buffering", "no");
	if (kf_httpd_reply_stream(rq, "text/event-stream; charset=utf-8", &st) < 0 || !st) {
		kf_httpd_stream_close(st);
		return;
	}
	struct kf_buf b = KF_BUF_INIT;
	kf_buf_puts(&b, "retry: 2000\n\n");
	sse(&b, "summary", kf_api_summary_json(h->fleet));
	struct client *c = kf_xcalloc(1, sizeof(*c));
	c->st = st;
	c->host = host ? kf_xstrdup(host) : NULL;
	pthread_mutex_lock(&h->mu);
	if (kf_httpd_stream_send(st, b.s, b.len, MAX_QUEUED) < 0 || h->stop) {
		kf_httpd_stream_close(st);
		free(c->host);
		free(c);
	} else {
		c->next = h->clients;
		h->clients = c;
	}
	pthread_mutex_unlock(&h->mu);
	kf_buf_release(&b);
}

int kf_hub_start(struct kf_hub **out, struct kf_serve *s, struct kf_fleet *f, struct kf_err *e)
{
	struct kf_hub *h = kf_xcalloc(1, sizeof(*h));
	h->s = s;
	h->fleet = f;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	struct kf_state *st = kf_serve_state(s, e);
	struct kf_event *ev = NULL;
	size_t n = 0;
	int r = st ? kf_state_list_events(st, NULL, 1, &ev, &n, e) : -EIO;
	if (r == 0 && n)
		h->last_id = ev[0].id;
	kf_events_free(ev, n);
	if (r == 0)
		r = kf_fleet_reload(f, s, e);
	h->reloaded = h->kept_alive = time(NULL);
	int pe = r == 0 ? pthread_create(&h->th, NULL, hub_main, h) : 0;
	if (pe)
		r = kf_errc(e, -pe, NULL, "api: cannot start the event thread: %s", strerror(pe));
	if (r < 0) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return r;
	}
	h->running = true;
	*out = h;
	return 0;
}

void kf_hub_halt(struct kf_hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (h->running)
		pthread_join(h->th, NULL);
	h->running = false;
	pthread_mutex_lock(&h->mu);
	for (struct client *c = h->clients, *next; c; c = next) {
		next = c->next;
		kf_httpd_stream_close(c->st);
		free(c->host);
		free(c);
	}
	h->clients = NULL;
	pthread_mutex_unlock(&h->mu);
}

void kf_hub_stop(struct kf_hub *h)
{
	if (!h)
		return;
	kf_hub_halt(h);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
