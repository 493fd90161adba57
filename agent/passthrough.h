/* The passthrough resource's check of guests' hostdevs (agent/passthrough.c). */
#ifndef KF_AGENT_PASSTHROUGH_H
#define KF_AGENT_PASSTHROUGH_H

#include "agent/resource.h"

/* A guest's hostdev against what the host binds: an unmanaged one must be
 * on vfio-pci already or listed in passthrough.devices; a managed one must
 * not be listed there (libvirt would give it back to its host driver when
 * the guest stops, and the two would fight).  Errors go to ctx->err at the
 * profile's line. */
void kf_passthrough_check_hostdev(struct kf_ctx *ctx, const struct kf_p_guest *g, const struct kf_p_hostdev *h);

#endif
