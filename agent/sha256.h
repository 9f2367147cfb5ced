/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4) in portable C, for the guest program and the client's checks of copies. */
#ifndef IT_AGENT_SHA256_H
#define IT_AGENT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_SHA256_LEN 32

struct agent_sha256 {
	uint32_t h[8];
	uint64_t total; /* bytes hashed so far */
	uint8_t block[64];
	size_t fill;
};

void agent_sha256_init(struct agent_sha256 *s);
void agent_sha256_update(struct agent_sha256 *s, const void *data, size_t len);
void agent_sha256_final(struct agent_sha256 *s, uint8_t out[AGENT_SHA256_LEN]);
/* Lowercase hex of a digest into out (65 bytes, NUL-terminated). */
void agent_sha256_hex(const uint8_t d[AGENT_SHA256_LEN], char out[2 * AGENT_SHA256_LEN + 1]);

#endif
