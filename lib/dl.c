/* Libraries opened at first use (lib/dl.h). */
#include "dl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void open_lib(struct kf_dl *dl)
{
	void *h = dlopen(dl->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *de = dlerror();
		dl->why = kf_xasprintf("%s is not installed: %s (%s)", dl->name, dl->needed_for,
				       de ? de : dl->soname);
		dl->state = -ELIBACC;
		return;
	}
	const char *missing = dl->resolve(h);
	if (missing) {
		dl->why = kf_xasprintf("%s is too old: %s has no %s: %s", dl->name, dl->soname, missing,
				       dl->needed_for);
		dl->state = -ELIBACC;
		dlclose(h);
		return;
	}
	dl->state = 1;
}

int kf_dl_load(struct kf_dl *dl, struct kf_err *e)
{
	pthread_mutex_lock(&lock);
	if (!dl->state)
		open_lib(dl);
	int state = dl->state;
	pthread_mutex_unlock(&lock);
	if (state > 0)
		return 0;
	if (e)
		kf_errc(e, state, NULL, "%s", dl->why);
	return state;
}
