package relay

import (
	"testing"
	"time"
)

func TestPollInterval(t *testing.T) {
	const min, max = 2 * time.Second, 30 * time.Second
	tests := []struct {
		idle, want time.Duration
	}{
		{0, min},
		{time.Second, min},
		{8 * time.Second, min},
		{12 * time.Second, 3 * time.Second},
		{40 * time.Second, 10 * time.Second},
		{2 * time.Minute, max},
		{time.Hour, max},
		{-time.Second, min}, // clock went backwards
	}
	for _, tt := range tests {
		if got := PollInterval(tt.idle, min, max); got != tt.want {
			t.Errorf("PollInterval(%v) = %v, want %v", tt.idle, got, tt.want)
		}
	}
}

func TestPollIntervalNeverShrinksWhileIdle(t *testing.T) {
	const min, max = time.Second, time.Minute
	prev := time.Duration(0)
	for idle := time.Duration(0); idle < 10*time.Minute; idle += 250 * time.Millisecond {
		got := PollInterval(idle, min, max)
		if got < prev {
			t.Fatalf("interval shrank from %v to %v at idle %v", prev, got, idle)
		}
		if got < min || got > max {
			t.Fatalf("interval %v outside [%v, %v]", got, min, max)
		}
		prev = got
	}
}
