// SPDX-License-Identifier: MIT
/* A host file into the guest through an agent client's WRITE, read as the queue takes it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/copyin.h"

#define CHUNK (32 * 1024)

int copy_in_begin(struct copy_in *ci, struct agent_client *c, const char *local, const char *guest,
		  unsigned mode, int64_t now_ms, struct it_error *err)
{
	struct stat st;
	int r;

	memset(ci, 0, sizeof(*ci));
	ci->fd = open(local, O_RDONLY | O_CLOEXEC);
	if (ci->fd < 0 || fstat(ci->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		it_error_set(err, -IT_EUSAGE, "cannot read '%s': %s", local,
			     ci->fd < 0 ? strerror(errno) : "not a regular file");
		copy_in_close(ci);
		return -IT_EUSAGE;
	}
	ci->size = (uint64_t)st.st_size;
	r = agent_client_write_begin(c, guest, mode ? mode : (unsigned)(st.st_mode & 07777),
				     ci->size, now_ms, &ci->id, err);
	if (r < 0)
		copy_in_close(ci);
	return r;
}

int copy_in_push(struct copy_in *ci, struct agent_client *c, struct it_error *err)
{
	char chunk[CHUNK];

	while (ci->done < ci->size && agent_client_output_room(c) >= 2 * CHUNK) {
		ssize_t n = read(ci->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return it_error_set(err, n < 0 ? -errno : -EIO, "%s",
					    n < 0 ? strerror(errno)
						  : "the file shrank while it was copied");
		if (agent_client_write_data(c, ci->id, chunk, (size_t)n, err) < 0)
			return err->code;
		ci->done += (uint64_t)n;
	}
	if (ci->done == ci->size && !ci->ended && agent_client_output_room(c) >= CHUNK) {
		ci->ended = true;
		if (agent_client_write_end(c, ci->id, NULL, err) < 0)
			return err->code;
	}
	return 0;
}

void copy_in_close(struct copy_in *ci)
{
	if (ci->fd >= 0)
		close(ci->fd);
	ci->fd = -1;
}
