#include "sasl.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum mp_sasl_mech mp_sasl_parse(const char *name)
{
	static const struct {
		const char *n;
		enum mp_sasl_mech m;
	} t[] = {{"PLAIN", MP_SASL_PLAIN},
	         {"LOGIN", MP_SASL_LOGIN},
	         {"CRAM-MD5", MP_SASL_CRAM_MD5},
	         {"XOAUTH2", MP_SASL_XOAUTH2}};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strcasecmp(name, t[i].n) == 0)
			return t[i].m;
	return MP_SASL_NONE;
}

const char *mp_sasl_name(enum mp_sasl_mech m)
{
	switch (m) {
	case MP_SASL_PLAIN: return "PLAIN";
	case MP_SASL_LOGIN: return "LOGIN";
	case MP_SASL_CRAM_MD5: return "CRAM-MD5";
	case MP_SASL_XOAUTH2: return "XOAUTH2";
	default: return "none";
	}
}

enum mp_sasl_mech mp_sasl_choose(const char *offered)
{
	/* strongest first; over TLS (the only place we authenticate) PLAIN
	 * is as good as any, CRAM-MD5 keeps the password off the wire */
	static const enum mp_sasl_mech pref[] = {MP_SASL_CRAM_MD5, MP_SASL_PLAIN, MP_SASL_LOGIN};
	char buf[256], *save = NULL;

	for (size_t p = 0; p < sizeof pref / sizeof pref[0]; p++) {
		snprintf(buf, sizeof buf, "%s", offered);
		for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (mp_sasl_parse(w) == pref[p])
				return pref[p];
	}
	return MP_SASL_NONE;
}

int mp_sasl_initial(enum mp_sasl_mech m)
{
	return m == MP_SASL_PLAIN || m == MP_SASL_XOAUTH2;
}

int mp_sasl_step(enum mp_sasl_mech m, int step, const char *user, const char *pass,
                 const char *challenge, size_t clen, struct mp_buf *out, struct mp_err *e)
{
	mp_buf_reset(out);
	switch (m) {
	case MP_SASL_PLAIN:
		/* authzid NUL authcid NUL password */
		if (mp_buf_putc(out, 0) || mp_buf_puts(out, user) || mp_buf_putc(out, 0) ||
		    mp_buf_puts(out, pass))
			goto nomem;
		return 0;
	case MP_SASL_LOGIN:
		if (step > 1)
			return mp_err_set(e, EX_PROTOCOL, "AUTH LOGIN: unexpected challenge");
		return mp_buf_puts(out, step == 0 ? user : pass) ? -1 : 0;
	case MP_SASL_CRAM_MD5: {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdl = 0;
		if (step > 0)
			return mp_err_set(e, EX_PROTOCOL, "AUTH CRAM-MD5: unexpected challenge");
		if (!HMAC(EVP_md5(), pass, (int)strlen(pass), (const unsigned char *)challenge,
		          clen, md, &mdl))
			return mp_err_set(e, EX_SOFTWARE, "HMAC-MD5 failed");
		if (mp_buf_puts(out, user) || mp_buf_putc(out, ' '))
			goto nomem;
		for (unsigned i = 0; i < mdl; i++)
			if (mp_buf_printf(out, "%02x", md[i]))
				goto nomem;
		return 0;
	}
	case MP_SASL_XOAUTH2:
		if (mp_buf_printf(out, "user=%s\001auth=Bearer %s\001\001", user, pass))
			goto nomem;
		return 0;
	default: return mp_err_set(e, EX_CONFIG, "no usable authentication mechanism");
	}
nomem:
	return mp_err_sys(e, EX_TEMPFAIL, "SASL");
}
