package blobstore

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Janitor deletes, every Interval, the blobs of a Sweeper that nobody wrote
// or read for longer than the retention Retention returns. Retention is
// asked each round, so a change of the namespace's retention takes effect
// without a restart; a retention of 0 or less skips the round.
type Janitor struct {
	Store     Sweeper
	Retention func(context.Context) (time.Duration, error)
	Interval  time.Duration // default 1h
	Logger    *slog.Logger

	stop chan struct{}
	wg   sync.WaitGroup
}

// Start sweeps once now and then every Interval until Stop.
func (j *Janitor) Start() {
	if j.Interval <= 0 {
		j.Interval = time.Hour
	}
	if j.Logger == nil {
		j.Logger = slog.Default()
	}
	j.stop = make(chan struct{})
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		t := time.NewTicker(j.Interval)
		defer t.Stop()
		for {
			_, _ = j.SweepOnce(context.Background())
			select {
			case <-j.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// SweepOnce runs one round and says how many blobs it deleted.
func (j *Janitor) SweepOnce(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ret, err := j.Retention(ctx)
	if err != nil {
		if j.Logger != nil {
			j.Logger.Warn("blob store: retention unknown, nothing swept", "error", err)
		}
		return 0, err
	}
	if ret <= 0 {
		return 0, nil
	}
	n, err := j.Store.Sweep(ctx, time.Now().Add(-ret))
	if err != nil && j.Logger != nil {
		j.Logger.Warn("blob store: sweep failed", "error", err)
	}
	if n > 0 && j.Logger != nil {
		j.Logger.Info("blob store: swept blobs past the namespace's retention", "deleted", n, "retention", ret)
	}
	return n, err
}

// Stop ends the sweeps and waits for a round in progress.
func (j *Janitor) Stop() {
	if j.stop != nil {
		close(j.stop)
		j.wg.Wait()
		j.stop = nil
	}
}
