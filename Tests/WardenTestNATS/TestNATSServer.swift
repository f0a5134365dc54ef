public import Foundation
import NIOCore
import NIOPosix

/// A real `nats-server` (Debian's) on a loopback port of its own, for one test: started, stopped and started
/// again on the same port to test reconnection.
public final class TestNATSServer: @unchecked Sendable {
    public let port: Int
    private let tls: TestCertificates?
    private var process: Process?

    public init(tls: TestCertificates? = nil) throws {
        port = try Self.unusedPort()
        self.tls = tls
        try start()
    }

    deinit { stop() }

    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments =
            ["-a", "127.0.0.1", "-p", "\(port)"]
            + (tls.map { ["--tls", "--tlscert", $0.certificate, "--tlskey", $0.key] } ?? [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try waitUntilListening()
    }

    public func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
    }

    private static var executable: String {
        ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "nats-server"
    }

    private func waitUntilListening() throws {
        for _ in 0..<100 {
            if (try? ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).flatMap { $0.close() }.wait()) != nil
            {
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw CocoaError(.fileReadUnknown)
    }

    /// A port nothing listens on now (bound and released: a small race, fine for tests).
    private static func unusedPort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        return channel.localAddress?.port ?? 0
    }
}

/// A CA and a certificate for `localhost` it signed (openssl), in a folder of their own, for a NATS server
/// with TLS.
public struct TestCertificates {
    public let folder: URL
    public var ca: String { folder.appendingPathComponent("ca.pem").path }
    public var certificate: String { folder.appendingPathComponent("server.pem").path }
    public var key: String { folder.appendingPathComponent("server.key").path }

    public init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("warden-nats-tls-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(folder.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=test-ca \
              -keyout ca.key -out ca.pem 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
              -keyout server.key -out server.csr 2>/dev/null
            printf 'subjectAltName=DNS:localhost\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
              -extfile san.ext -out server.pem 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}
