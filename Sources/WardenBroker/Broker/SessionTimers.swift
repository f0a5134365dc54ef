import NIOCore

/// The clocks of a session its connection released: its Will after the Will Delay Interval, its end after
/// the Session Expiry Interval. The session holds each timer, so the connection that takes it up cancels them
/// ([MQTT-3.1.2-8]); one scheduled when a connection already took it up (or it ended) cancels itself.
struct SessionTimers: Sendable {
    let loop: any EventLoop

    /// Publishes the Will after `delay`, unless the session is taken up or ends first.
    func will(of session: Session, after delay: TimeAmount, _ publish: @escaping @Sendable () -> Void) {
        schedule(\.pendingWill, of: session, after: delay, publish)
    }

    /// Ends the session after `delay`, unless it is taken up first.
    func expiry(of session: Session, after delay: TimeAmount, _ end: @escaping @Sendable () -> Void) {
        schedule(\.pendingExpiry, of: session, after: delay, end)
    }

    private func schedule(
        _ slot: any WritableKeyPath<Session.State, Scheduled<Void>?> & Sendable, of session: Session,
        after delay: TimeAmount,
        _ work: @escaping @Sendable () -> Void
    ) {
        let task = loop.scheduleTask(in: delay) {
            session.withState { $0[keyPath: slot] = nil }
            work()
        }
        session.withState { state in
            if state.sink != nil || state.isEnded { task.cancel() } else { state[keyPath: slot] = task }
        }
    }
}
