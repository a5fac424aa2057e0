/* sasl: client steps of SASL mechanisms for SMTP/IMAP/POP3 AUTH:
 * PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195), XOAUTH2. Each step turns
 * a server challenge (decoded) into the response to send (to be base64
 * encoded by the caller). */
#ifndef MP_SASL_H
#define MP_SASL_H

#include <stddef.h>

#include "util.h"

enum mp_sasl_mech { MP_SASL_NONE, MP_SASL_PLAIN, MP_SASL_LOGIN, MP_SASL_CRAM_MD5, MP_SASL_XOAUTH2 };

/* Mechanism by name ("plain", "LOGIN", ...), MP_SASL_NONE if unknown. */
enum mp_sasl_mech mp_sasl_parse(const char *name);
const char *mp_sasl_name(enum mp_sasl_mech m);
/* The strongest of a server's space-separated list that we speak. */
enum mp_sasl_mech mp_sasl_choose(const char *offered);
/* Initial response (PLAIN, XOAUTH2) or the response to challenge number
 * step (LOGIN: 0 user, 1 password; CRAM-MD5: 0 the HMAC). */
int mp_sasl_step(enum mp_sasl_mech m, int step, const char *user, const char *pass,
                 const char *challenge, size_t clen, struct mp_buf *out, struct mp_err *e);
/* Whether the mechanism sends an initial response with AUTH. */
int mp_sasl_initial(enum mp_sasl_mech m);

#endif
