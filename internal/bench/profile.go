package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
)

// profiler writes CPU and allocation profiles of the measured phases. The CPU profile runs
// from the start to the end of a phase. The allocation profile is written twice, at the start
// (NAME.base.EXT) and at the end (NAME.EXT) of a phase, because the runtime's allocation counts
// are cumulative since the process started: `go tool pprof -sample_index=alloc_space -base
// NAME.base.EXT NAME.EXT` then shows the phase's allocations alone.
// side runs f with the profiler label side=name, which the goroutines f starts inherit, so that
// a CPU profile splits the process's samples by who spent them: `go tool pprof -tags` shows
// "switchyard" (the server under test: API, engine, adapters, their HTTP clients), "load" (the
// bench's clients), "endpoints" (the receiving webhook endpoints) and "provider" (a SaaS fake and
// its tap). Unlabelled samples are goroutines started before (the store's writer) and the Go
// runtime's (GC workers).
func side(name string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("side", name), func(context.Context) { f() })
}

type profiler struct {
	cpuPath, memPath string
	// perPhase inserts the phase's label into the file names (more than one phase is measured).
	perPhase bool
	label    string
	cpu      *os.File
	errs     []error
	// written lists the files produced, for the report.
	written []string
}

func newProfiler(cpuPath, memPath string, perPhase bool) *profiler {
	return &profiler{cpuPath: cpuPath, memPath: memPath, perPhase: perPhase}
}

// path returns the file for this phase: base itself, or base with the label inserted before
// its extension (cpu.pprof → cpu-ingest-single-r1.pprof).
func (p *profiler) path(base, label, kind string) string {
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if p.perPhase {
		stem += "-" + label
	}
	return stem + kind + ext
}

// start begins profiling a phase. Failures are kept for err: a profile that cannot be written
// must not stop the measurement.
func (p *profiler) start(label string) {
	p.label = label
	if p.memPath != "" {
		p.writeHeap(p.path(p.memPath, label, ".base"))
	}
	if p.cpuPath != "" {
		path := p.path(p.cpuPath, label, "")
		f, err := os.Create(path)
		if err != nil {
			p.errs = append(p.errs, fmt.Errorf("creating the CPU profile: %w", err))
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			p.errs = append(p.errs, fmt.Errorf("starting the CPU profile: %w", err))
			return
		}
		p.cpu = f
		p.wrote(path)
	}
}

// stop ends the phase's profiles; it does nothing when none runs.
func (p *profiler) stop() {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			p.errs = append(p.errs, fmt.Errorf("writing the CPU profile: %w", err))
		}
		p.cpu = nil
	}
	if p.memPath != "" && p.label != "" {
		p.writeHeap(p.path(p.memPath, p.label, ""))
	}
	p.label = ""
}

func (p *profiler) writeHeap(path string) {
	runtime.GC() // up-to-date statistics, as `go test -memprofile` does
	f, err := os.Create(path)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("creating the allocation profile: %w", err))
		return
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		p.errs = append(p.errs, fmt.Errorf("writing the allocation profile: %w", err))
	}
	if err := f.Close(); err != nil {
		p.errs = append(p.errs, fmt.Errorf("writing the allocation profile: %w", err))
	}
	p.wrote(path)
}

// wrote notes a file written (once: a phase measured again rewrites its files).
func (p *profiler) wrote(path string) {
	if !slices.Contains(p.written, path) {
		p.written = append(p.written, path)
	}
}

func (p *profiler) err() error { return errors.Join(p.errs...) }
