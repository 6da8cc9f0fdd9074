package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// clockTicks is Linux's USER_HZ, the unit of /proc CPU times (100 on every mainstream build).
const clockTicks = 100

// serverTicks returns the CPU time, in clock ticks, of every process whose command line
// contains match, by process id: with PostgreSQL, the backends serving the bench database
// (their process titles name it). It returns nil where /proc is unavailable or match is empty.
func serverTicks(match string) map[int]int64 {
	if match == "" {
		return nil
	}
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil || len(dirs) == 0 {
		return nil
	}
	out := map[int]int64{}
	for _, dir := range dirs {
		cmd, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(match)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// The command name (field 2) is parenthesised and may hold spaces: count fields after
		// its closing parenthesis, where field 3 (state) is the first.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(string(f[11]), 10, 64)
		stime, _ := strconv.ParseInt(string(f[12]), 10, 64)
		pid, _ := strconv.Atoi(filepath.Base(dir))
		out[pid] = utime + stime
	}
	return out
}

// ticksSince sums the CPU ticks used since before by the processes in now (a process absent
// from before started since, and all its time counts).
func ticksSince(before, now map[int]int64) int64 {
	var sum int64
	for pid, t := range now {
		sum += t - before[pid]
	}
	return sum
}
