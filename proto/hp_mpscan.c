/* hp_mpscan.c - the bounded msgpack scanner and the UTF-8 checks (see hp_mpscan.h).
 *
 * The scanner never looks back further than one header (at most 9 bytes) or one UTF-8
 * sequence (at most 3 bytes): when the bytes fed so far end inside either, pos stays at its
 * start and the next call decodes it again. Everything else is consumed once, so the total
 * cost is linear in the object's size however it is chunked. */
#include "hp_mpscan.h"

#include <string.h>

/* --- UTF-8 --------------------------------------------------------------------------------- */

/* The sequence at s[0..n), n >= 1: its length (1..4) when it is there whole and valid; 0 when
 * these bytes can never be a valid sequence; -(its length) when s[0..n) is a valid start of a
 * longer one. Strict (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. */
static int utf8_seq(const uint8_t *s, size_t n)
{
	uint8_t b = s[0], lo = 0x80, hi = 0xbf; /* the range of the second byte */
	int len;
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		if (b == 0xe0)
			lo = 0xa0; /* below: overlong */
		if (b == 0xed)
			hi = 0x9f; /* above: surrogates U+D800..U+DFFF */
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		if (b == 0xf0)
			lo = 0x90; /* below: overlong */
		if (b == 0xf4)
			hi = 0x8f; /* above: beyond U+10FFFF */
	} else {
		return 0; /* a continuation byte, 0xc0/0xc1 (overlong), 0xf5..0xff */
	}
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -len;
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80, hi = 0xbf;
	}
	return len;
}

bool hp_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		int k = utf8_seq(s + i, len - i);
		if (k <= 0)
			return false;
		i += (size_t)k;
	}
	return true;
}

size_t hp_utf8_sanitize(const uint8_t *s, size_t len, char *out, size_t outsize)
{
	static const uint8_t replacement[3] = { 0xef, 0xbf, 0xbd }; /* U+FFFD */
	if (outsize == 0)
		return 0;
	size_t w = 0, room = outsize - 1; /* keep one byte for the NUL */
	for (size_t i = 0; i < len;) {
		int k = utf8_seq(s + i, len - i);
		const uint8_t *from = k > 0 ? s + i : replacement;
		size_t n = k > 0 ? (size_t)k : sizeof(replacement);
		if (n > room - w)
			break;
		memcpy(out + w, from, n);
		w += n;
		i += k > 0 ? (size_t)k : 1; /* a bad byte is replaced alone: the next may start a
					     * valid sequence */
	}
	out[w] = '\0';
	return w;
}

/* --- tokens -------------------------------------------------------------------------------- */

static uint64_t read_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* An n-byte two's complement big-endian integer, without implementation-defined casts. */
static int64_t read_be_signed(const uint8_t *p, unsigned n)
{
	uint64_t u = read_be(p, n), sign = 1ull << (8 * n - 1);
	if (!(u & sign))
		return (int64_t)u;
	uint64_t magnitude = n == 8 ? ~u + 1 : (sign << 1) - u; /* 1 .. 2^(8n-1) */
	return magnitude > INT64_MAX ? INT64_MIN : -(int64_t)magnitude;
}

static int8_t to_int8(uint8_t b)
{
	return (int8_t)(b >= 0x80 ? b - 0x100 : b);
}

/* How the header of a first byte in 0xc0..0xdf goes on: `arg` is the width of the length or
 * value that follows, or a fixext's payload length. */
enum form { F_NIL, F_FALSE, F_TRUE, F_NEVER, F_LEN, F_EXT_LEN, F_FIXEXT, F_FLOAT, F_UINT, F_INT };

static const struct {
	uint8_t type, form, arg;
} forms[32] = {
	{ HP_MP_NIL, F_NIL, 0 },      { HP_MP_NIL, F_NEVER, 0 },     /* c0 nil, c1 never used */
	{ HP_MP_BOOL, F_FALSE, 0 },   { HP_MP_BOOL, F_TRUE, 0 },     /* c2 c3 */
	{ HP_MP_BIN, F_LEN, 1 },      { HP_MP_BIN, F_LEN, 2 },       /* c4 c5 */
	{ HP_MP_BIN, F_LEN, 4 },      { HP_MP_EXT, F_EXT_LEN, 1 },   /* c6 c7 */
	{ HP_MP_EXT, F_EXT_LEN, 2 },  { HP_MP_EXT, F_EXT_LEN, 4 },   /* c8 c9 */
	{ HP_MP_FLOAT32, F_FLOAT, 4 }, { HP_MP_FLOAT64, F_FLOAT, 8 }, /* ca cb */
	{ HP_MP_UINT, F_UINT, 1 },    { HP_MP_UINT, F_UINT, 2 },     /* cc cd */
	{ HP_MP_UINT, F_UINT, 4 },    { HP_MP_UINT, F_UINT, 8 },     /* ce cf */
	{ HP_MP_INT, F_INT, 1 },      { HP_MP_INT, F_INT, 2 },       /* d0 d1 */
	{ HP_MP_INT, F_INT, 4 },      { HP_MP_INT, F_INT, 8 },       /* d2 d3 */
	{ HP_MP_EXT, F_FIXEXT, 1 },   { HP_MP_EXT, F_FIXEXT, 2 },    /* d4 d5 */
	{ HP_MP_EXT, F_FIXEXT, 4 },   { HP_MP_EXT, F_FIXEXT, 8 },    /* d6 d7 */
	{ HP_MP_EXT, F_FIXEXT, 16 },  { HP_MP_STR, F_LEN, 1 },       /* d8 d9 */
	{ HP_MP_STR, F_LEN, 2 },      { HP_MP_STR, F_LEN, 4 },       /* da db */
	{ HP_MP_ARRAY, F_LEN, 2 },    { HP_MP_ARRAY, F_LEN, 4 },     /* dc dd */
	{ HP_MP_MAP, F_LEN, 2 },      { HP_MP_MAP, F_LEN, 4 },       /* de df */
};

static uint32_t form_header_len(enum form f, unsigned arg)
{
	switch (f) {
	case F_LEN:
	case F_FLOAT:
	case F_UINT:
	case F_INT:
		return 1 + arg;
	case F_EXT_LEN:
		return 2 + arg; /* length, then the ext type byte */
	case F_FIXEXT:
		return 2;
	default:
		return 1;
	}
}

/* The one-byte headers: everything outside 0xc0..0xdf. */
static void fix_token(const uint8_t *buf, struct hp_mp_token *t)
{
	uint8_t b = buf[0];
	t->header_len = 1;
	if (b <= 0x7f) {
		t->type = HP_MP_UINT;
		t->v.u = b;
	} else if (b <= 0x8f) {
		t->type = HP_MP_MAP;
		t->len = b & 0x0f;
	} else if (b <= 0x9f) {
		t->type = HP_MP_ARRAY;
		t->len = b & 0x0f;
	} else if (b <= 0xbf) {
		t->type = HP_MP_STR;
		t->len = b & 0x1f;
		t->data = buf + 1;
	} else {
		t->type = HP_MP_INT;
		t->v.i = (int64_t)b - 0x100;
	}
}

static double read_float(const uint8_t *p, unsigned width)
{
	uint64_t bits = read_be(p, width);
	if (width == 4) {
		uint32_t b32 = (uint32_t)bits;
		float f;
		memcpy(&f, &b32, sizeof(f));
		return f;
	}
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

int hp_mp_token(const uint8_t *buf, size_t len, struct hp_mp_token *t)
{
	memset(t, 0, sizeof(*t));
	if (len == 0) {
		t->header_len = 1;
		return HP_MP_INCOMPLETE;
	}
	uint8_t b = buf[0];
	if (b < 0xc0 || b > 0xdf) {
		fix_token(buf, t);
		return HP_MP_OK;
	}
	enum form f = forms[b - 0xc0].form;
	unsigned arg = forms[b - 0xc0].arg;
	t->type = forms[b - 0xc0].type;
	t->header_len = form_header_len(f, arg);
	if (f == F_NEVER)
		return HP_MP_INVALID;
	if (len < t->header_len)
		return HP_MP_INCOMPLETE;
	const uint8_t *p = buf + 1;
	switch (f) {
	case F_FALSE:
	case F_TRUE:
		t->v.b = f == F_TRUE;
		break;
	case F_LEN:
		t->len = (uint32_t)read_be(p, arg);
		break;
	case F_EXT_LEN:
		t->len = (uint32_t)read_be(p, arg);
		t->ext_type = to_int8(p[arg]);
		break;
	case F_FIXEXT:
		t->len = arg;
		t->ext_type = to_int8(p[0]);
		break;
	case F_FLOAT:
		t->v.f64 = read_float(p, arg);
		break;
	case F_UINT:
		t->v.u = read_be(p, arg);
		break;
	case F_INT:
		t->v.i = read_be_signed(p, arg);
		break;
	default:
		break;
	}
	if (t->type == HP_MP_STR || t->type == HP_MP_BIN || t->type == HP_MP_EXT)
		t->data = buf + t->header_len;
	return HP_MP_OK;
}

/* --- the scanner --------------------------------------------------------------------------- */

void hp_mp_scanner_init(struct hp_mp_scanner *s, const struct hp_mp_limits *lim)
{
	memset(s, 0, sizeof(*s));
	if (lim)
		s->lim = *lim;
	if (s->lim.max_depth == 0 || s->lim.max_depth > HP_MP_MAX_DEPTH)
		s->lim.max_depth = HP_MP_MAX_DEPTH;
	s->left[0] = 1; /* the object itself */
	s->need = 1;
}

static int fail(struct hp_mp_scanner *s, uint64_t offset, const char *why)
{
	s->error = why;
	s->error_offset = offset;
	return HP_MP_INVALID;
}

/* Can the object still take `more` bytes from pos on? (pos <= max_bytes always holds.) */
static bool fits(const struct hp_mp_scanner *s, uint64_t more)
{
	uint64_t max = s->lim.max_bytes;
	return max == 0 || more <= max - s->pos;
}

/* Every level whose last element just ended is closed; the object is done when the last one
 * closes. */
static void close_levels(struct hp_mp_scanner *s)
{
	while (s->depth > 0 && s->left[s->depth] == 0)
		s->depth--;
	s->done = s->depth == 0 && s->left[0] == 0;
}

/* A complete str/bin/ext header: its payload comes next. */
static int start_payload(struct hp_mp_scanner *s, const struct hp_mp_token *t)
{
	if (!fits(s, t->header_len + (uint64_t)t->len + s->need - 1))
		return fail(s, s->pos, "length exceeds the size limit");
	s->pos += t->header_len;
	s->left[s->depth]--;
	s->need += (uint64_t)t->len - 1;
	s->payload_left = t->len;
	s->payload_utf8 = t->type == HP_MP_STR && (s->lim.flags & HP_MP_F_UTF8);
	if (t->len == 0)
		close_levels(s);
	return HP_MP_OK;
}

/* A complete array/map header: its elements come next (a map's n pairs are 2n elements). */
static int start_container(struct hp_mp_scanner *s, const struct hp_mp_token *t)
{
	uint64_t n = t->type == HP_MP_MAP ? 2 * (uint64_t)t->len : t->len;
	if (!fits(s, t->header_len + n + s->need - 1))
		return fail(s, s->pos, "count exceeds the size limit");
	s->pos += t->header_len;
	s->left[s->depth]--;
	s->need += n - 1;
	if (n == 0) {
		close_levels(s);
		return HP_MP_OK;
	}
	s->left[++s->depth] = n;
	return HP_MP_OK;
}

/* The header at pos. Flags, depth and size are checked on the first byte alone, so a header
 * that can never be valid is INVALID before the rest of it arrives. */
static int scan_header(struct hp_mp_scanner *s, const uint8_t *buf, size_t len)
{
	if (s->pos == len)
		return HP_MP_INCOMPLETE;
	struct hp_mp_token t;
	int rc = hp_mp_token(buf + s->pos, len - s->pos, &t);
	if (rc == HP_MP_INVALID)
		return fail(s, s->pos, "invalid byte 0xc1");
	if (t.type == HP_MP_EXT && (s->lim.flags & HP_MP_F_NO_EXT))
		return fail(s, s->pos, "ext not allowed");
	bool container = t.type == HP_MP_ARRAY || t.type == HP_MP_MAP;
	if (container && s->depth >= s->lim.max_depth)
		return fail(s, s->pos, "nesting too deep");
	/* this header, then at least one byte for every other element still expected */
	if (!fits(s, t.header_len + s->need - 1))
		return fail(s, s->pos, "object exceeds the size limit");
	if (rc == HP_MP_INCOMPLETE)
		return HP_MP_INCOMPLETE;
	if (t.type == HP_MP_STR || t.type == HP_MP_BIN || t.type == HP_MP_EXT)
		return start_payload(s, &t);
	if (container)
		return start_container(s, &t);
	s->pos += t.header_len;
	s->left[s->depth]--;
	s->need--;
	close_levels(s);
	return HP_MP_OK;
}

/* How much of a str payload's fed bytes `p[0..n)` are whole valid sequences; `left` bytes
 * remain in the str from p on. A sequence cut by the end of the feed stops the count (it is
 * decoded again next time); one cut by the end of the str, or never valid, is an error. */
static int utf8_prefix(const uint8_t *p, uint64_t n, uint64_t left, uint64_t *ok)
{
	uint64_t i = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		int k = utf8_seq(p + i, n - i);
		if (k > 0) {
			i += (uint64_t)k;
			continue;
		}
		*ok = i;
		if (k == 0 || (uint64_t)-k > left - i)
			return HP_MP_INVALID;
		return HP_MP_INCOMPLETE;
	}
	*ok = i;
	return HP_MP_OK;
}

static int scan_payload(struct hp_mp_scanner *s, const uint8_t *buf, size_t len)
{
	uint64_t avail = len - s->pos;
	uint64_t take = avail < s->payload_left ? avail : s->payload_left;
	if (take == 0)
		return HP_MP_INCOMPLETE;
	uint64_t ok = take;
	if (s->payload_utf8 &&
	    utf8_prefix(buf + s->pos, take, s->payload_left, &ok) == HP_MP_INVALID)
		return fail(s, s->pos + ok, "invalid UTF-8 in a str");
	s->pos += ok;
	s->payload_left -= ok;
	s->need -= ok;
	if (s->payload_left)
		return HP_MP_INCOMPLETE; /* the feed ended inside the payload */
	close_levels(s);
	return HP_MP_OK;
}

int hp_mp_scan(struct hp_mp_scanner *s, const uint8_t *buf, size_t len, size_t *obj_len)
{
	if (s->error)
		return HP_MP_INVALID;
	if (len < s->pos)
		return fail(s, len, "buffer shorter than in the previous call");
	while (!s->done) {
		int rc = s->payload_left ? scan_payload(s, buf, len) : scan_header(s, buf, len);
		if (rc != HP_MP_OK)
			return rc;
	}
	if (obj_len)
		*obj_len = (size_t)s->pos;
	return HP_MP_OK;
}

int hp_mp_check_one(const uint8_t *buf, size_t len, const struct hp_mp_limits *lim,
		    const char **error, size_t *offset)
{
	struct hp_mp_scanner s;
	size_t n = 0;
	hp_mp_scanner_init(&s, lim);
	int rc = hp_mp_scan(&s, buf, len, &n);
	const char *why;
	uint64_t at;
	if (rc == HP_MP_OK && n == len)
		return HP_MP_OK;
	if (rc == HP_MP_OK) {
		rc = HP_MP_INVALID;
		why = "bytes after the object";
		at = n;
	} else if (rc == HP_MP_INCOMPLETE) {
		why = "truncated";
		at = len;
	} else {
		why = s.error;
		at = s.error_offset;
	}
	if (error)
		*error = why;
	if (offset)
		*offset = (size_t)at;
	return rc;
}

/* --- walking validated bytes ------------------------------------------------------------------ */

/* The header at the cursor; a str/bin/ext payload is stepped over too. */
bool hp_mp_next(struct hp_mp_cursor *c, struct hp_mp_token *t)
{
	if (hp_mp_token(c->p, c->left, t) != HP_MP_OK || t->header_len > c->left)
		return false;
	size_t n = t->header_len;
	if (t->type == HP_MP_STR || t->type == HP_MP_BIN || t->type == HP_MP_EXT) {
		if (t->len > c->left - n)
			return false;
		n += t->len;
	}
	c->p += n;
	c->left -= n;
	return true;
}

/* Steps over one whole object, returning its span. */
bool hp_mp_next_object(struct hp_mp_cursor *c, const uint8_t **start, size_t *len)
{
	struct hp_mp_scanner s;
	hp_mp_scanner_init(&s, NULL);
	if (hp_mp_scan(&s, c->p, c->left, len) != HP_MP_OK)
		return false;
	*start = c->p;
	c->p += *len;
	c->left -= *len;
	return true;
}

bool hp_mp_next_uint(struct hp_mp_cursor *c, uint64_t *v)
{
	struct hp_mp_token t;
	if (!hp_mp_next(c, &t))
		return false;
	if (t.type == HP_MP_UINT) {
		*v = t.v.u;
		return true;
	}
	if (t.type == HP_MP_INT && t.v.i >= 0) {
		*v = (uint64_t)t.v.i;
		return true;
	}
	return false;
}

/* A str, or a bin (some clients send names as bin). */
bool hp_mp_next_name(struct hp_mp_cursor *c, const uint8_t **s, uint32_t *len)
{
	struct hp_mp_token t;
	if (!hp_mp_next(c, &t) || (t.type != HP_MP_STR && t.type != HP_MP_BIN))
		return false;
	*s = t.data;
	*len = t.len;
	return true;
}
