//go:build unix

package jsrt

import "syscall"

// openNonblock keeps opening a FIFO or a device from waiting (for a writer,
// a carrier); fs checks what it opened before reading it.
const openNonblock = syscall.O_NONBLOCK
