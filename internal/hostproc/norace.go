//go:build !race

package hostproc

const raceEnabled = false
