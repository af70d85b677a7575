/* enrich.h - the work of records.enrich, a JSON-ish transform: an array of records (maps) in,
 * the same records out with each "name" upper-cased and a "total" (qty * price) added where
 * both are numbers. Written against msgpack-c only, so that the module (records.c) and the
 * benchmark's native peers (tests/bench/peer_work.h) run the very same code. */
#ifndef RECORDS_ENRICH_H
#define RECORDS_ENRICH_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static inline bool enrich_key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && !memcmp(k->via.str.ptr, name, n);
}

static inline bool enrich_number(const msgpack_object *v, double *out)
{
	switch (v->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)v->via.u64; return true;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)v->via.i64; return true;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: *out = v->via.f64; return true;
	default: return false;
	}
}

/* "total" for one record: qty * price, when the map has both as numbers. */
static inline bool enrich_total(const msgpack_object_map *m, double *total)
{
	double qty = 0, price = 0;
	bool has_qty = false, has_price = false;
	for (uint32_t i = 0; i < m->size; i++) {
		if (enrich_key_is(&m->ptr[i].key, "qty"))
			has_qty = enrich_number(&m->ptr[i].val, &qty);
		else if (enrich_key_is(&m->ptr[i].key, "price"))
			has_price = enrich_number(&m->ptr[i].val, &price);
	}
	*total = qty * price;
	return has_qty && has_price;
}

static inline int enrich_pack_upper(msgpack_packer *pk, const msgpack_object_str *s)
{
	if (msgpack_pack_str(pk, s->size) < 0)
		return -1;
	char chunk[256];
	for (uint32_t off = 0; off < s->size; off += sizeof(chunk)) {
		uint32_t n = s->size - off < sizeof(chunk) ? s->size - off : (uint32_t)sizeof(chunk);
		for (uint32_t i = 0; i < n; i++) {
			char c = s->ptr[off + i];
			chunk[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
		}
		if (msgpack_pack_str_body(pk, chunk, n) < 0)
			return -1;
	}
	return 0;
}

static inline int enrich_record(msgpack_packer *pk, const msgpack_object_map *m)
{
	double total;
	bool add_total = enrich_total(m, &total);
	if (msgpack_pack_map(pk, m->size + (add_total ? 1 : 0)) < 0)
		return -1;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object_kv *kv = &m->ptr[i];
		if (msgpack_pack_object(pk, kv->key) < 0)
			return -1;
		int rc = enrich_key_is(&kv->key, "name") && kv->val.type == MSGPACK_OBJECT_STR
				 ? enrich_pack_upper(pk, &kv->val.via.str)
				 : msgpack_pack_object(pk, kv->val);
		if (rc < 0)
			return -1;
	}
	if (add_total && (msgpack_pack_str_with_body(pk, "total", 5) < 0 ||
			  msgpack_pack_double(pk, total) < 0))
		return -1;
	return 0;
}

/* Checks first, so that nothing is packed for input it refuses: NULL, or why not. */
static inline const char *enrich_check(const msgpack_object *records)
{
	if (records->type != MSGPACK_OBJECT_ARRAY)
		return "expects an array of records (maps)";
	for (uint32_t i = 0; i < records->via.array.size; i++)
		if (records->via.array.ptr[i].type != MSGPACK_OBJECT_MAP)
			return "every record must be a map";
	return NULL;
}

/* Packs the enriched records; 0, or -1 when the packer fails (output full). */
static inline int enrich_records(msgpack_packer *pk, const msgpack_object *records)
{
	if (msgpack_pack_array(pk, records->via.array.size) < 0)
		return -1;
	for (uint32_t i = 0; i < records->via.array.size; i++)
		if (enrich_record(pk, &records->via.array.ptr[i].via.map) < 0)
			return -1;
	return 0;
}

#endif
