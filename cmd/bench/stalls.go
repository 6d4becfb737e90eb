package main

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// stallGap is the shortest pause of a spinning thread counted as a stall:
// far above the clock read's cost and a guest timer tick's work.
const stallGap = 200 * time.Microsecond

// stallReport is what one probe saw.
type stallReport struct {
	probe   time.Duration
	threads int
	gaps    int
	lost    time.Duration // summed over threads
	longest time.Duration
}

func (r stallReport) String() string {
	share := 100 * float64(r.lost) / float64(r.probe*time.Duration(r.threads))
	return fmt.Sprintf("CPU stalls with nothing else running (%s, a spinning thread per CPU): %.2f%% of the time lost in %d pauses over %s, the longest %s",
		r.probe, share, r.gaps, stallGap, r.longest.Round(10*time.Microsecond))
}

// probeStalls spins one locked thread per CPU for d, reading the clock,
// and counts the pauses between reads. On an idle machine every pause is
// time a CPU was taken away: by the hypervisor (a virtual CPU descheduled
// on a busy host) or by the kernel. Every request in flight on that CPU
// waits as long, so the pauses bound how low a p99 this machine can show,
// whatever the service does; the run prints them beside its table.
func probeStalls(d time.Duration) stallReport {
	n := runtime.GOMAXPROCS(0)
	r := stallReport{probe: d, threads: n}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var gaps []time.Duration
			last := time.Now()
			for end := last.Add(d); last.Before(end); {
				now := time.Now()
				if g := now.Sub(last); g > stallGap {
					gaps = append(gaps, g)
				}
				last = now
			}
			mu.Lock()
			defer mu.Unlock()
			r.gaps += len(gaps)
			for _, g := range gaps {
				r.lost += g
			}
			r.longest = max(r.longest, slices.Max(append(gaps, 0)))
		})
	}
	wg.Wait()
	return r
}
