/*
 * printf family: %d %i %u %x %X %p %s %c %%, length l, ll, z,
 * field width, '0' padding and '-' left alignment.
 */
#include "libguest.h"

struct sink {
	void (*put)(struct sink *s, char c);
	char *buf;
	size_t size;
	size_t len;             /* characters produced, even past size */
};

struct spec {
	int width;
	bool zero, left;
	int length;             /* 0: int, 1: long, 2: long long, 3: size_t */
};

static void put_serial(struct sink *s, char c)
{
	serial_putc(c);
	s->len++;
}

static void put_buf(struct sink *s, char c)
{
	if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void emit_padded(struct sink *s, const struct spec *sp, const char *str,
			size_t n, const char *prefix)
{
	size_t plen = strlen(prefix);
	int pad = sp->width - (int)(n + plen);
	char fill = sp->zero && !sp->left ? '0' : ' ';

	if (fill == ' ')
		while (!sp->left && pad-- > 0)
			s->put(s, ' ');
	while (*prefix)
		s->put(s, *prefix++);
	if (fill == '0')
		while (pad-- > 0)
			s->put(s, '0');
	while (n--)
		s->put(s, *str++);
	while (sp->left && pad-- > 0)
		s->put(s, ' ');
}

static void emit_number(struct sink *s, const struct spec *sp, uint64_t v,
			int base, bool upper, const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int i = (int)sizeof(tmp);

	do {
		tmp[--i] = digits[v % (uint64_t)base];
		v /= (uint64_t)base;
	} while (v);
	emit_padded(s, sp, tmp + i, sizeof(tmp) - (size_t)i, prefix);
}

static uint64_t fetch_unsigned(const struct spec *sp, va_list *ap)
{
	switch (sp->length) {
	case 0: return va_arg(*ap, unsigned int);
	case 1: return va_arg(*ap, unsigned long);
	case 2: return va_arg(*ap, unsigned long long);
	default: return va_arg(*ap, size_t);
	}
}

static int64_t fetch_signed(const struct spec *sp, va_list *ap)
{
	switch (sp->length) {
	case 0: return va_arg(*ap, int);
	case 1: return va_arg(*ap, long);
	case 2: return va_arg(*ap, long long);
	default: return (int64_t)va_arg(*ap, size_t);
	}
}

static const char *parse_spec(const char *f, struct spec *sp)
{
	*sp = (struct spec){ 0 };
	for (;; f++) {
		if (*f == '0')
			sp->zero = true;
		else if (*f == '-')
			sp->left = true;
		else
			break;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == 'z') {
		sp->length = 3;
		f++;
	}
	while (*f == 'l' && sp->length < 2) {
		sp->length++;
		f++;
	}
	return f;
}

static void format_one(struct sink *s, const struct spec *sp, char conv, va_list *ap)
{
	switch (conv) {
	case 'd': case 'i': {
		int64_t v = fetch_signed(sp, ap);
		emit_number(s, sp, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10,
			    false, v < 0 ? "-" : "");
		break;
	}
	case 'u': emit_number(s, sp, fetch_unsigned(sp, ap), 10, false, ""); break;
	case 'x': emit_number(s, sp, fetch_unsigned(sp, ap), 16, false, ""); break;
	case 'X': emit_number(s, sp, fetch_unsigned(sp, ap), 16, true, ""); break;
	case 'p':
		emit_number(s, sp, (uint64_t)va_arg(*ap, void *), 16, false, "0x");
		break;
	case 's': {
		const char *str = va_arg(*ap, const char *);
		if (!str)
			str = "(null)";
		emit_padded(s, sp, str, strlen(str), "");
		break;
	}
	case 'c': {
		char c = (char)va_arg(*ap, int);
		emit_padded(s, sp, &c, 1, "");
		break;
	}
	default:
		s->put(s, '%');
		if (conv)
			s->put(s, conv);
	}
}

static void format(struct sink *s, const char *f, va_list ap)
{
	va_list aq;
	struct spec sp;

	va_copy(aq, ap);
	while (*f) {
		if (*f != '%') {
			s->put(s, *f++);
			continue;
		}
		f = parse_spec(f + 1, &sp);
		if (*f == '%') {
			s->put(s, '%');
			f++;
			continue;
		}
		format_one(s, &sp, *f, &aq);
		if (*f)
			f++;
	}
	va_end(aq);
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct sink s = { put_buf, buf, n, 0 };

	format(&s, fmt, ap);
	if (n)
		buf[s.len < n ? s.len : n - 1] = '\0';
	return (int)s.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink s = { put_serial, NULL, 0, 0 };

	format(&s, fmt, ap);
	return (int)s.len;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vprintf(fmt, ap);
	va_end(ap);
	return r;
}
