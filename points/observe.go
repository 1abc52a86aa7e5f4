package points

// Observer is told of what the service does that operators count;
// package metrics implements it. Its methods are called from many
// goroutines and must be fast.
type Observer interface {
	// Replayed is called when a write is answered with the stored result
	// of an earlier request — the same (app_key, request_id), or for a
	// refund the same reverse_order_id — without writing again. method is
	// the service's name of the operation ("consume", "reverse", …).
	Replayed(method string)
}

// SetObserver makes the service tell o of what it observes. Call it
// before the service is first used.
func (s *Service) SetObserver(o Observer) { s.observer = o }

// noteReplay tells the observer of a write that ended as a replay.
func (s *Service) noteReplay(method string, out Outcome, err error) {
	if err == nil && out.Replayed && s.observer != nil {
		s.observer.Replayed(method)
	}
}
