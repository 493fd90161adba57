/* The HTTP server's counters (/metrics) and its refusal log: the part of
 * provision/http.c that calls nothing from libmicrohttpd. */
#include "provision/http_int.h"

#include <stdarg.h>
#include <stdio.h>

#include "util.h"

static const char *const refusal_name[REF_COUNT] = {
	"client_connections", "slow_request", "too_many_headers", "body_too_large", "bad_path",
	"bad_head",
};

/* Refusal log lines: at most LOG_BURST a second, the others counted and
 * said in the next line logged (a flood must not fill the disk). */
#define LOG_BURST 20


void kf_httpd_count(struct kf_httpd *h, const struct kf_httpd_route *route, int status,
		    uint64_t bytes)
{
	size_t ri = route ? (size_t)(route - h->routes) : h->nroutes;
	size_t si = NSTATUS - 1;
	for (size_t i = 0; i < KF_ARRAY_SIZE(counted_status); i++)
		if (counted_status[i] == status)
			si = i;
	__atomic_fetch_add(&h->stats[ri].by_status[si], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->bytes_sent, bytes, __ATOMIC_RELAXED);
}

void kf_httpd_refusal(struct kf_httpd *h, enum refusal why, const char *fmt, ...)
{
	__atomic_fetch_add(&h->refused[why], 1, __ATOMIC_RELAXED);
	time_t now = time(NULL);
	unsigned dropped = 0;
	pthread_mutex_lock(&h->log_lock);
	if (now != h->log_sec) {
		h->log_sec = now;
		h->log_n = 0;
	}
	bool say = ++h->log_n <= LOG_BURST;
	if (say) {
		dropped = h->log_dropped;
		h->log_dropped = 0;
	} else {
		h->log_dropped++;
	}
	pthread_mutex_unlock(&h->log_lock);
	if (!say)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (dropped)
		kf_log(KF_LOG_WARN, "http: %s (and %u refusals not logged before it)", msg, dropped);
	else
		kf_log(KF_LOG_WARN, "http: %s", msg);
}

void kf_httpd_metrics(struct kf_httpd *h, struct kf_buf *b)
{
	kf_buf_puts(b, "# HELP kickfleet_http_requests_total HTTP requests answered, by route and status\n"
		       "# TYPE kickfleet_http_requests_total counter\n");
	for (size_t r = 0; r <= h->nroutes; r++) {
		const char *name = r < h->nroutes ? h->routes[r].name : "none";
		for (size_t s = 0; s < NSTATUS; s++) {
			uint64_t v = __atomic_load_n(&h->stats[r].by_status[s], __ATOMIC_RELAXED);
			if (!v)
				continue;
			if (s < NSTATUS - 1)
				kf_buf_printf(b, "kickfleet_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
					      name, counted_status[s], (unsigned long long)v);
			else
				kf_buf_printf(b, "kickfleet_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
					      name, (unsigned long long)v);
		}
	}
	kf_buf_printf(b,
		      "# HELP kickfleet_http_sent_bytes_total body bytes handed to clients\n"
		      "# TYPE kickfleet_http_sent_bytes_total counter\n"
		      "kickfleet_http_sent_bytes_total %llu\n"
		      "# HELP kickfleet_http_workers worker threads serving connections\n"
		      "# TYPE kickfleet_http_workers gauge\n"
		      "kickfleet_http_workers %u\n"
		      "# HELP kickfleet_http_connections open client connections\n"
		      "# TYPE kickfleet_http_connections gauge\n"
		      "kickfleet_http_connections %llu\n"
		      "# HELP kickfleet_http_connections_total client connections accepted\n"
		      "# TYPE kickfleet_http_connections_total counter\n"
		      "kickfleet_http_connections_total %llu\n"
		      "# HELP kickfleet_http_aborted_total requests ended by an error or a timeout\n"
		      "# TYPE kickfleet_http_aborted_total counter\n"
		      "kickfleet_http_aborted_total{reason=\"error\"} %llu\n"
		      "kickfleet_http_aborted_total{reason=\"timeout\"} %llu\n",
		      (unsigned long long)__atomic_load_n(&h->bytes_sent, __ATOMIC_RELAXED), h->nw,
		      (unsigned long long)__atomic_load_n(&h->conns_open, __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&h->conns_total, __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&h->req_errors, __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&h->req_timeouts, __ATOMIC_RELAXED));
	kf_buf_puts(b, "# HELP kickfleet_http_refused_total requests and connections refused before any handler, by reason\n"
		       "# TYPE kickfleet_http_refused_total counter\n");
	for (int i = 0; i < REF_COUNT; i++)
		kf_buf_printf(b, "kickfleet_http_refused_total{reason=\"%s\"} %llu\n", refusal_name[i],
			      (unsigned long long)__atomic_load_n(&h->refused[i], __ATOMIC_RELAXED));
}
