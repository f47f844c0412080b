package connect

// AdminCallStats reports, for tests, how many calls the checker has made to
// hosts and how many checks share the call in flight for h and accountID.
func (a *AdminChecker) AdminCallStats(h Host, accountID string) (calls int64, waiters int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.inflight[adminKey(h, accountID)]; ok {
		waiters = c.waiters
	}
	return a.calls, waiters
}
