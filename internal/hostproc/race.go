//go:build race

package hostproc

const raceEnabled = true
