/* The plan: the list of changes the resources' diff functions produce, and
 * the notes that go with it (agent/resource.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent/resource.h"
#include "util.h"

struct kf_change *kf_plan_add(struct kf_plan *p, const char *resource, const char *from,
			      const char *to, const char *what_fmt, ...)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->v = kf_xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	struct kf_change *ch = &p->v[p->n++];
	memset(ch, 0, sizeof(*ch));
	ch->resource = resource;
	va_list ap;
	va_start(ap, what_fmt);
	if (vasprintf(&ch->what, what_fmt, ap) < 0)
		kf_die_oom();
	va_end(ap);
	ch->from = from ? kf_xstrdup(from) : NULL;
	ch->to = kf_xstrdup(to ? to : "");
	ch->status = KF_ST_PLANNED;
	return ch;
}

void kf_plan_note(struct kf_plan *p, const char *resource, const char *fmt, ...)
{
	if (p->nnotes == p->capnotes) {
		p->capnotes = p->capnotes ? 2 * p->capnotes : 4;
		p->notes = kf_xrealloc(p->notes, p->capnotes * sizeof(*p->notes));
	}
	struct kf_note *n = &p->notes[p->nnotes++];
	n->resource = resource;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&n->text, fmt, ap) < 0)
		kf_die_oom();
	va_end(ap);
}

void kf_plan_release(struct kf_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct kf_change *ch = &p->v[i];
		free(ch->what);
		free(ch->from);
		free(ch->to);
		free(ch->reason);
		if (ch->free_data)
			ch->free_data(ch->data);
	}
	for (size_t i = 0; i < p->nnotes; i++)
		free(p->notes[i].text);
	free(p->v);
	free(p->notes);
	memset(p, 0, sizeof(*p));
}

bool kf_change_actionable(const struct kf_change *ch)
{
	return !(ch->flags & KF_CH_PENDING);
}

const char *kf_change_status_name(const struct kf_change *ch)
{
	switch (ch->status) {
	case KF_ST_PLANNED:
		if (!(ch->flags & KF_CH_PENDING))
			return "planned";
		/* fall through */
	case KF_ST_PENDING: return (ch->flags & KF_CH_RESTART) ? "pending restart" : "pending";
	case KF_ST_APPLIED:
		return (ch->flags & KF_CH_REBOOT) ? "applied, needs reboot"
		       : (ch->flags & KF_CH_RESTART) ? "applied, at guest restart" : "applied";
	case KF_ST_FAILED: return "failed";
	case KF_ST_SKIPPED: return "skipped";
	}
	return "?";
}
