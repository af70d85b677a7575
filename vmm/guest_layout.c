#include "guest_layout.h"

#include "hp_abi.h"

static uint64_t page_up(uint64_t v)
{
	return (v + HP_PAGE_SIZE - 1) & ~(HP_PAGE_SIZE - 1);
}

static int check_size(const char *what, uint64_t v, uint64_t min, uint64_t max,
		      struct hp_error *err)
{
	if (v % HP_PAGE_SIZE)
		return hp_fail(err, HP_E_INVALID, "%s %#llx is not a multiple of the page size",
			       what, (unsigned long long)v);
	if (v < min || v > max)
		return hp_fail(err, HP_E_INVALID, "%s %#llx is outside [%#llx, %#llx]", what,
			       (unsigned long long)v, (unsigned long long)min,
			       (unsigned long long)max);
	return 0;
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

int hp_layout_compute(const struct hp_module_config *cfg, uint64_t core_size,
		      const struct hp_elf_image *img, struct hp_layout *out, struct hp_error *err)
{
	struct hp_layout l = { 0 };
	l.core_size = page_up(core_size);
	if (core_size == 0 || l.core_size > HP_CORE_TEXT_MAX)
		return hp_fail(err, HP_E_INVALID, "core image of %llu bytes does not fit",
			       (unsigned long long)core_size);
	l.input_size = or_default(cfg->input_size, HP_DEFAULT_INPUT_SIZE);
	l.output_size = or_default(cfg->output_size, HP_DEFAULT_OUTPUT_SIZE);
	l.heap_size = or_default(cfg->heap_size, HP_DEFAULT_HEAP_SIZE);
	l.stack_size = or_default(cfg->stack_size, HP_DEFAULT_STACK_SIZE);
	if (check_size("input_size", l.input_size, HP_PAGE_SIZE, HP_INPUT_MAX, err) ||
	    check_size("output_size", l.output_size, HP_PAGE_SIZE, HP_OUTPUT_MAX, err) ||
	    check_size("heap_size", l.heap_size, HP_MIN_HEAP_SIZE, HP_GUEST_MEM_MAX, err) ||
	    check_size("stack_size", l.stack_size, HP_MIN_STACK_SIZE, HP_GUEST_MEM_MAX, err))
		return -1;
	if (img->lo < HP_GPA_IMAGE || img->hi > HP_GPA_IMAGE + HP_IMAGE_MAX || img->lo >= img->hi)
		return hp_fail(err, HP_E_BAD_ELF, "module image [%#llx, %#llx) is outside the image region",
			       (unsigned long long)img->lo, (unsigned long long)img->hi);
	l.image_lo = img->lo;
	l.image_hi = img->hi;
	l.heap_start = l.image_hi;
	l.guard = l.heap_start + l.heap_size;
	l.stack_base = l.guard + HP_PAGE_SIZE;
	l.stack_top = l.stack_base + l.stack_size;
	l.mem_size = l.stack_top;
	if (l.mem_size > HP_GUEST_MEM_MAX)
		return hp_fail(err, HP_E_INVALID, "guest memory of %llu MiB exceeds the %llu MiB limit",
			       (unsigned long long)(l.mem_size >> 20),
			       (unsigned long long)(HP_GUEST_MEM_MAX >> 20));
	*out = l;
	return 0;
}

static unsigned seg_flags(uint32_t f)
{
	unsigned m = HP_MAP_USER;
	if (f & HP_SEG_R)
		m |= HP_MAP_R;
	if (f & HP_SEG_W)
		m |= HP_MAP_W | HP_MAP_R;
	if (f & HP_SEG_X)
		m |= HP_MAP_X | HP_MAP_R;
	return m;
}

unsigned hp_layout_regions(const struct hp_layout *l, const struct hp_elf_image *img,
			   struct hp_region *out)
{
	unsigned n = 0;
	out[n++] = (struct hp_region){ HP_GPA_CORE_TEXT, l->core_size, HP_MAP_R | HP_MAP_X, "core text" };
	out[n++] = (struct hp_region){ HP_GPA_CORE_TABLES, HP_PAGE_SIZE, HP_MAP_R, "core tables" };
	out[n++] = (struct hp_region){ HP_GPA_CORE_STACK, HP_CORE_STACK_SIZE, HP_MAP_R | HP_MAP_W, "core stack" };
	out[n++] = (struct hp_region){ HP_GPA_CONTROL, HP_CONTROL_SIZE,
				       HP_MAP_R | HP_MAP_W | HP_MAP_USER, "control" };
	out[n++] = (struct hp_region){ HP_GPA_INPUT, l->input_size, HP_MAP_R | HP_MAP_USER, "input" };
	out[n++] = (struct hp_region){ HP_GPA_OUTPUT, l->output_size,
				       HP_MAP_R | HP_MAP_W | HP_MAP_USER, "output" };
	for (unsigned i = 0; i < img->nsegs; i++) {
		const struct hp_elf_segment *s = &img->seg[i];
		uint64_t lo = s->vaddr & ~(HP_PAGE_SIZE - 1);
		out[n++] = (struct hp_region){ lo, page_up(s->vaddr + s->memsz) - lo,
					       seg_flags(s->flags), "module segment" };
	}
	out[n++] = (struct hp_region){ l->heap_start, l->heap_size,
				       HP_MAP_R | HP_MAP_W | HP_MAP_USER, "heap" };
	out[n++] = (struct hp_region){ l->stack_base, l->stack_size,
				       HP_MAP_R | HP_MAP_W | HP_MAP_USER, "stack" };
	out[n++] = (struct hp_region){ HP_GPA_HYPERCALL, HP_PAGE_SIZE,
				       HP_MAP_W | HP_MAP_USER | HP_MAP_MMIO, "hypercall page" };
	return n;
}

bool hp_regions_user_readable(const struct hp_region *r, unsigned n, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < n; i++) {
		bool readable = (r[i].flags & HP_MAP_USER) && (r[i].flags & HP_MAP_R) &&
				!(r[i].flags & HP_MAP_MMIO);
		if (readable && addr >= r[i].start && addr - r[i].start < r[i].size &&
		    len <= r[i].size - (addr - r[i].start))
			return true;
	}
	return false;
}
