/* Fixed-window rate limiter (ratelimit.h). */
#include "provision/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

struct rate_slot {
	char key[64];
	long minute;
	unsigned n;
	unsigned told; /* the first refusal of this window was reported */
};

struct kf_rate {
	pthread_mutex_t lock;
	unsigned per_minute, nslots;
	struct rate_slot *v;
};

struct kf_rate *kf_rate_new(unsigned per_minute, unsigned slots)
{
	struct kf_rate *r = kf_xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->per_minute = per_minute;
	r->nslots = slots ? slots : 1;
	r->v = kf_xcalloc(r->nslots, sizeof(*r->v));
	return r;
}

void kf_rate_free(struct kf_rate *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->v);
	free(r);
}

unsigned kf_rate_limit(const struct kf_rate *r) { return r->per_minute; }

/* The key's slot for this minute (the lock held), reset when it was
 * another key's or an older minute's. */
static struct rate_slot *slot_of(struct kf_rate *r, const char *key, long minute)
{
	struct rate_slot *s = NULL;
	for (unsigned i = 0; i < r->nslots; i++) {
		if (!strncmp(r->v[i].key, key, sizeof(r->v[i].key) - 1)) {
			s = &r->v[i];
			break;
		}
		if (!s || r->v[i].minute < s->minute)
			s = &r->v[i]; /* the stalest slot, if the key has none */
	}
	if (strncmp(s->key, key, sizeof(s->key) - 1) || s->minute != minute) {
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->minute = minute;
		s->n = 0;
		s->told = 0;
	}
	return s;
}

int kf_rate_take(struct kf_rate *r, const char *key)
{
	if (!r->per_minute)
		return 0;
	long minute = (long)(time(NULL) / 60);
	pthread_mutex_lock(&r->lock);
	struct rate_slot *s = slot_of(r, key, minute);
	if (s->n <= r->per_minute)
		s->n++; /* stops one past the limit: no overflow */
	int v = s->n <= r->per_minute ? 0 : s->n == r->per_minute + 1 && !s->told ? 1 : 2;
	if (v == 1)
		s->told = 1;
	pthread_mutex_unlock(&r->lock);
	return v;
}

bool kf_rate_over(struct kf_rate *r, const char *key)
{
	/* over: the next event would be refused */
	if (!r->per_minute)
		return false;
	long minute = (long)(time(NULL) / 60);
	pthread_mutex_lock(&r->lock);
	bool over = slot_of(r, key, minute)->n >= r->per_minute;
	pthread_mutex_unlock(&r->lock);
	return over;
}
