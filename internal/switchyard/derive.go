package switchyard

// StatusCounts counts an event's deliveries by status.
type StatusCounts map[Status]int

// EventStatus derives an event's status from its deliveries' statuses: completed when every
// delivery completed (or there are none); failed when any failed and none is still in progress;
// canceled when all were canceled; otherwise processing while any is processing, retrying while
// any awaits a retry, and pending before anything started.
func EventStatus(c StatusCounts) Status {
	total := 0
	for _, n := range c {
		total += n
	}
	terminal := c[StatusCompleted] + c[StatusFailed] + c[StatusCanceled]
	switch {
	case total == 0 || c[StatusCompleted] == total:
		return StatusCompleted
	case terminal == total && c[StatusFailed] > 0:
		return StatusFailed
	case terminal == total && c[StatusCompleted] > 0:
		return StatusCompleted
	case terminal == total:
		return StatusCanceled
	case c[StatusProcessing] > 0:
		return StatusProcessing
	case c[StatusRetrying] > 0:
		return StatusRetrying
	case terminal > 0:
		return StatusProcessing
	}
	return StatusPending
}
