import Foundation
import Synchronization
import Testing
import WardenCore

struct EventBusTests {
    private func event(_ id: String) throws -> DomainEvent {
        .deviceDeleted(.defaultTenant, try DeviceID(id))
    }

    @Test func observersSeeEventsInOrderSynchronously() throws {
        let bus = EventBus()
        let seen = Mutex<[String]>([])
        bus.observe { event in
            if case .deviceDeleted(_, let id) = event { seen.withLock { $0.append(id.rawValue) } }
        }
        try bus.publish(event("one"))
        try bus.publish(event("two"))
        #expect(seen.withLock { $0 } == ["one", "two"])
    }

    @Test func removedObserversHearNothing() throws {
        let bus = EventBus()
        let count = Mutex(0)
        let observation = bus.observe { _ in count.withLock { $0 += 1 } }
        bus.remove(observation)
        try bus.publish(event("x"))
        #expect(count.withLock { $0 } == 0)
    }

    @Test func slowSubscribersLoseOldestAndCountIt() async throws {
        let bus = EventBus()
        let stream = bus.subscribe(bufferLimit: 2)
        for index in 0..<5 { try bus.publish(event("d\(index)")) }
        #expect(bus.droppedEvents == 3)
        var iterator = stream.makeAsyncIterator()
        guard case .deviceDeleted(_, let first)? = await iterator.next() else {
            Issue.record("no event")
            return
        }
        #expect(first.rawValue == "d3")
    }
}
