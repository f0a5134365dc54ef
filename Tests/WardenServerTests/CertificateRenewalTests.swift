import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import WardenCore
import WardenSecurity

@testable import WardenServer

/// The development server certificate is re-issued once it has less than 30 days left, and the reload service
/// looks at it on its own schedule (issue 15, item 4).
struct CertificateRenewalTests {
    @Test func theDevelopmentCertificateIsReissuedNearItsExpiryOnly() throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "warden-renew-\(UUID().uuidString)").path
        let directory = DataDirectory(path: folder)
        try directory.prepare()
        let sealer = AESGCMSealer(masterKey: .generate())
        let start = Date()
        func load(after days: Double) throws -> String {
            try TLSMaterial.load(
                .init(), directory: directory, hubHostName: .localhost, sealer: sealer,
                now: start.addingTimeInterval(days * 86_400)
            ).certificateChainPEM
        }
        let first = try load(after: 0)
        #expect(try load(after: 300) == first)
        let renewed = try load(after: 370)
        #expect(renewed != first)
        #expect(try load(after: 371) == renewed)
    }

    @Test func theReloadServiceLooksOnItsScheduleAndStopsWithTheGroup() async throws {
        let calls = Mutex(0)
        let service = TLSReloadService(
            reload: {
                calls.withLock { $0 += 1 }
                return true
            }, renewalCheck: .milliseconds(20), logger: Logger(label: "test"))
        let group = ServiceGroup(
            configuration: .init(services: [service], gracefulShutdownSignals: [], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while calls.withLock({ $0 }) < 3 { try await Task.sleep(for: .milliseconds(10)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(calls.withLock { $0 } >= 3)
    }
}
