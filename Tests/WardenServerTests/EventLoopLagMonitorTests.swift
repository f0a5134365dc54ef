import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

@testable import WardenServer

/// The lag probe reports a loop that a handler blocks, and little for a loop that is free.
struct EventLoopLagMonitorTests {
    final class Lags: TimerHandler {
        let values = Mutex<[Int64]>([])
        func recordNanoseconds(_ duration: Int64) { values.withLock { $0.append(duration) } }
    }

    @Test func aBlockedLoopShowsItsLag() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let lags = Lags()
        var monitor = EventLoopLagMonitor(group: group, interval: .milliseconds(10))
        monitor.lag = Timer(label: "test", dimensions: [], handler: lags)
        let service = ServiceGroup(
            configuration: .init(services: [monitor], gracefulShutdownSignals: [], logger: .init(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await service.run() }
            // The probes exist once one has reported (a busy machine may start the service late).
            while lags.values.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
            // A handler that holds the loop for 200 ms: the probe due meanwhile runs about that late.
            try await group.next().submit {
                // A loop, not one usleep: a signal to the test process (a child exiting) would cut that short.
                let end = NIODeadline.now() + .milliseconds(200)
                while NIODeadline.now() < end { usleep(1000) }
            }.get()
            try await Task.sleep(for: .milliseconds(100))
            await service.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await group.shutdownGracefully()
        let values = lags.values.withLock { $0 }
        #expect(values.count >= 5)
        #expect(values.max() ?? 0 >= 100_000_000, "the blocked loop's lag: \(values.max() ?? 0) ns")
        #expect(values.sorted()[values.count / 2] < 100_000_000, "a free loop's median lag")
    }
}
