//go:build unix

package config

import "syscall"

// maxConnectionsLimit is the most API connections the process's open-file limit leaves room
// for, after the files, store connections and outbound delivery connections it also needs
// (a fixed reserve of 2048 descriptors). Go raises the soft limit to the hard one at start.
func maxConnectionsLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<30 {
		return 1 << 30
	}
	return max(1, int(lim.Cur)-2048)
}
