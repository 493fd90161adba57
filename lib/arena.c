#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct kf_arena_chunk {
	struct kf_arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

#define CHUNK_MIN 16384
#define BIG (CHUNK_MIN / 4) /* blocks this large get a chunk of their own */

static struct kf_arena_chunk *chunk_new(size_t size)
{
	/* not zeroed here: kf_arena_alloc zeroes what it hands out, and
	 * kf_arena_alloc_uninit's callers write all of it */
	struct kf_arena_chunk *c = kf_xmalloc(sizeof(*c) + size);
	c->size = size;
	c->used = 0;
	return c;
}

void *kf_arena_alloc_uninit(struct kf_arena *a, size_t size)
{
	size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!size)
		size = sizeof(max_align_t);
	struct kf_arena_chunk *c = a->head;
	if (c && c->size - c->used < size && size >= BIG) {
		/* behind the head, which keeps its free space for small blocks */
		struct kf_arena_chunk *big = chunk_new(size);
		big->next = c->next;
		c->next = big;
		c = big;
	} else if (!c || c->size - c->used < size) {
		c = chunk_new(size > CHUNK_MIN ? size : CHUNK_MIN);
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	a->total += size;
	return p;
}

void *kf_arena_alloc(struct kf_arena *a, size_t size)
{
	void *p = kf_arena_alloc_uninit(a, size);
	memset(p, 0, size);
	return p;
}

char *kf_arena_strndup(struct kf_arena *a, const char *s, size_t n)
{
	char *p = kf_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *kf_arena_strdup(struct kf_arena *a, const char *s)
{
	return s ? kf_arena_strndup(a, s, strlen(s)) : NULL;
}

char *kf_arena_printf(struct kf_arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *tmp = NULL;
	int n = vasprintf(&tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		kf_die_oom();
	char *p = kf_arena_strndup(a, tmp, (size_t)n);
	free(tmp);
	return p;
}

void *kf_arena_grow(struct kf_arena *a, void *old, size_t oldsize, size_t newsize)
{
	void *p = kf_arena_alloc(a, newsize);
	if (old && oldsize)
		memcpy(p, old, oldsize < newsize ? oldsize : newsize);
	return p;
}

void kf_arena_release(struct kf_arena *a)
{
	struct kf_arena_chunk *c = a->head;
	while (c) {
		struct kf_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->total = 0;
}
