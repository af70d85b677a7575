/* records - a JSON-ish transform of structured data: enrich(records) upper-cases each record's
 * "name" and adds "total" = qty * price where both are numbers (the work itself: enrich.h,
 * shared with the benchmark's native peers so that both do the same). */
#include <hyperpool/guest.h>

#include "enrich.h"

/* enrich([{"name": "ab", "qty": 2, "price": 1.5}, ...]) -> [{"name": "AB", "qty": 2,
 * "price": 1.5, "total": 3.0}, ...] */
static int enrich(const hp_args *args, hp_out *out)
{
	if (hp_args_expect(args, out, "a") < 0)
		return -1;
	const char *why = enrich_check(hp_arg(args, 0));
	if (why)
		return hp_error(out, "enrich: %s", why);
	/* a packer failure is a full output buffer: the runtime answers output_overflow */
	return enrich_records(hp_out_packer(out), hp_arg(args, 0));
}

HP_MODULE_INIT()
{
	hp_register("enrich", enrich);
}
