import Synchronization

/// Where an event happened: on this node, or on another node of a cluster, whose notice this node turned back
/// into the event (WardenCluster). A cache follows both; what is recorded or done once (an audit record, a
/// webhook, a store write, a rule's count) follows this node's own.
public enum EventOrigin: Sendable, Hashable {
    case thisNode
    case otherNode
}

/// The in-process bus every registry change is published on (DESIGN.md "one write path").
///
/// Observers run synchronously on the publisher's task, in publication order, so an in-memory view that
/// observes the bus is current as soon as the write call returns. Async consumers use `subscribe`, whose
/// buffer is bounded: when a slow consumer falls behind, the oldest events are dropped and counted.
public final class EventBus: Sendable {
    /// Identifies one observer, to remove it again.
    public struct Observation: Sendable, Hashable {
        fileprivate let id: Int
    }

    private struct State {
        var nextID = 0
        var observers: [(id: Int, handler: @Sendable (DomainEvent, EventOrigin) -> Void)] = []
        var droppedEvents = 0
    }

    private let state = Mutex(State())

    /// Makes an empty bus.
    public init() {}

    /// Calls `handler` with every event published from now on, wherever it happened, until `remove` is called.
    @discardableResult
    public func observe(_ handler: @escaping @Sendable (DomainEvent) -> Void) -> Observation {
        observeWithOrigin { event, _ in handler(event) }
    }

    /// Calls `handler` with every event this node published from now on (none from other nodes).
    @discardableResult
    public func observeThisNode(_ handler: @escaping @Sendable (DomainEvent) -> Void) -> Observation {
        observeWithOrigin { event, origin in if origin == .thisNode { handler(event) } }
    }

    /// Calls `handler` with every event published from now on and where it happened.
    @discardableResult
    public func observeWithOrigin(_ handler: @escaping @Sendable (DomainEvent, EventOrigin) -> Void) -> Observation {
        state.withLock { state in
            state.nextID += 1
            state.observers.append((state.nextID, handler))
            return Observation(id: state.nextID)
        }
    }

    /// Stops calling an observer.
    public func remove(_ observation: Observation) {
        state.withLock { state in state.observers.removeAll { $0.id == observation.id } }
    }

    /// An async stream of the events published from now on, holding at most `bufferLimit` unread events.
    public func subscribe(bufferLimit: Int) -> AsyncStream<DomainEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: DomainEvent.self, bufferingPolicy: .bufferingNewest(bufferLimit))
        let observation = observe { [weak self] event in
            if case .dropped = continuation.yield(event) {
                self?.state.withLock { $0.droppedEvents += 1 }
            }
        }
        continuation.onTermination = { [weak self] _ in self?.remove(observation) }
        return stream
    }

    /// How many events slow async subscribers lost to their buffer limit.
    public var droppedEvents: Int { state.withLock { $0.droppedEvents } }

    /// Hands `event` to every observer, in registration order.
    public func publish(_ event: DomainEvent, from origin: EventOrigin = .thisNode) {
        let observers = state.withLock { $0.observers }
        for observer in observers {
            observer.handler(event, origin)
        }
    }
}
