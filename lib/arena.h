/* A bump allocator: every model loaded from YAML lives in one arena and is
 * freed in one call.  Allocations are zeroed and aligned for any type. */
#ifndef KF_ARENA_H
#define KF_ARENA_H

#include <stddef.h>

struct kf_arena_chunk;

struct kf_arena {
	struct kf_arena_chunk *head;
	size_t total; /* bytes handed out, for limits */
};

void *kf_arena_alloc(struct kf_arena *a, size_t size);
/* The same, not zeroed: for big blocks the caller fills completely. */
void *kf_arena_alloc_uninit(struct kf_arena *a, size_t size);
char *kf_arena_strdup(struct kf_arena *a, const char *s);
char *kf_arena_strndup(struct kf_arena *a, const char *s, size_t n);
char *kf_arena_printf(struct kf_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Grows an array allocated from the arena (the old block is not reused). */
void *kf_arena_grow(struct kf_arena *a, void *old, size_t oldsize, size_t newsize);
/* Frees every allocation; a is left empty and reusable. */
void kf_arena_release(struct kf_arena *a);

#endif
