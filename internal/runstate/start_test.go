package runstate

import (
	"testing"
	"time"

	"github.com/weft-dev/weft"
)

func TestStart(t *testing.T) {
	at := func(s int) time.Time {
		if s == 0 {
			return time.Time{}
		}
		return time.Unix(int64(s), 0)
	}
	for _, tc := range []struct {
		name                    string
		last, now, ready, first int
		wait                    time.Duration
		run                     weft.RunStatus
		wantAt, wantFirst       int
		wantWait                time.Duration
		wantRunStarted          bool
	}{
		{name: "first attempt starts its run", now: 10, ready: 4, run: weft.RunPending,
			wantAt: 10, wantFirst: 10, wantWait: 6 * time.Second, wantRunStarted: true},
		{name: "a retry adds its wait", now: 20, ready: 15, first: 10, wait: 6 * time.Second, run: weft.RunRunning,
			wantAt: 20, wantFirst: 10, wantWait: 11 * time.Second},
		{name: "a stale now starts at the run's clock", last: 12, now: 8, ready: 9, run: weft.RunRunning,
			wantAt: 12, wantFirst: 12, wantWait: 3 * time.Second},
		{name: "no ready time, no wait", now: 5, wait: time.Second, run: weft.RunRunning,
			wantAt: 5, wantFirst: 5, wantWait: time.Second},
		{name: "ready after now, no wait", now: 5, ready: 7, first: 2, run: weft.RunRunning,
			wantAt: 5, wantFirst: 2},
	} {
		c := Clock{Last: at(tc.last)}
		s := Start(&c, at(tc.now), tc.run, at(tc.ready), at(tc.first), tc.wait)
		if !s.At.Equal(at(tc.wantAt)) || !s.FirstStartedAt.Equal(at(tc.wantFirst)) || s.QueueWait != tc.wantWait || s.RunStarted != tc.wantRunStarted {
			t.Errorf("%s: Start = %+v", tc.name, s)
		}
		if !c.Last.Equal(s.At) {
			t.Errorf("%s: clock at %v, want %v", tc.name, c.Last, s.At)
		}
		if e := s.RunEvent(); e.Type != weft.EventRunStarted || !e.Time.Equal(s.At) {
			t.Errorf("%s: RunEvent = %+v", tc.name, e)
		}
		if e := s.StepEvent(3, "w"); e.Type != weft.EventStepStarted || !e.Time.Equal(s.At) || e.Attempt != 3 || e.Worker != "w" || e.StepID != "" {
			t.Errorf("%s: StepEvent = %+v", tc.name, e)
		}
	}
}
