package procman

// UseShim turns the shim on or off for the tests and returns a function
// that restores the previous setting.
func UseShim(on bool) (restore func()) {
	prev := shimExe.Load()
	if !on {
		shimExe.Store(nil)
	} else if prev == nil {
		RunShimIfRequested()
	}
	return func() { shimExe.Store(prev) }
}

// ShimEnabled reports whether children are started under the shim.
func ShimEnabled() bool { return shimExe.Load() != nil }

// StderrBurst is how many stderr lines are logged per window.
const StderrBurst = stderrBurst
