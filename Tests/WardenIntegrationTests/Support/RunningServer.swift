import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

/// `warden serve` on a free port with its own data directory, and an HTTPS client that trusts its CA.
final class RunningServer: Sendable {
    let process: WardenProcess
    let url: String
    let dataDirectory: String

    static func start(
        dataDirectory: String? = nil, arguments: [String] = [], environment: [String: String] = [:]
    ) async throws -> RunningServer {
        let directory = try dataDirectory ?? makeDataDirectory()
        let process = try WardenProcess(
            ["serve", "--data-dir", directory, "--https-port", "0", "--mqtt-port", "0", "--amqp-port", "0"] + arguments,
            dataDirectory: directory,
            environment: environment)
        let started = await process.waitForOutput { $0.contains("Next steps") }
        guard started, let match = process.standardOutput.firstMatch(of: /listening on (https:\/\/[^ ]+)/) else {
            _ = await process.stop()
            throw ServerFailedToStart(stdout: process.standardOutput, stderr: process.standardError)
        }
        return RunningServer(process: process, url: String(match.output.1), dataDirectory: directory)
    }

    private init(process: WardenProcess, url: String, dataDirectory: String) {
        self.process = process
        self.url = url
        self.dataDirectory = dataDirectory
    }

    var adminToken: String {
        (try? String(contentsOfFile: dataDirectory + "/admin.token", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    var caPath: String { dataDirectory + "/tls/ca.pem" }

    /// An HTTP client trusting the development CA, limited to `maximumTLSVersion` when given.
    func makeClient(maximumTLSVersion: TLSVersion? = nil) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
        if let maximumTLSVersion {
            tls.maximumTLSVersion = maximumTLSVersion
            tls.minimumTLSVersion = .tlsv1
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    struct Reply {
        let status: Int
        let headers: HTTPHeaders
        let body: Data
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
        var code: String? { json?["code"] as? String }
    }

    /// One request with the admin credential (or `authorization`, or none when it is "").
    func request(
        _ method: HTTPMethod, _ path: String, body: String? = nil, authorization: String? = nil,
        headers: [(String, String)] = []
    ) async throws -> Reply {
        let client = try makeClient()
        do {
            let reply = try await send(client, method, path, body: body, authorization: authorization, headers: headers)
            try await client.shutdown()
            return reply
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func send(
        _ client: HTTPClient, _ method: HTTPMethod, _ path: String, body: String?, authorization: String?,
        headers: [(String, String)]
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        let credential = authorization ?? "Bearer \(adminToken)"
        if !credential.isEmpty { request.headers.add(name: "Authorization", value: credential) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 8 * 1024 * 1024)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(bytes.readableBytesView))
    }

    /// Runs a CLI command against this server's data directory; returns exit status and output.
    func cli(_ arguments: [String], environment: [String: String] = [:]) async throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let command = try WardenProcess(
            arguments + ["--data-dir", dataDirectory], dataDirectory: dataDirectory, environment: environment)
        let status = await command.waitForExit() ?? -1
        return (status, command.standardOutput, command.standardError)
    }

    func stop() async -> Int32? {
        await process.stop()
    }
}

struct ServerFailedToStart: Error, CustomStringConvertible {
    let stdout: String
    let stderr: String
    var description: String { "warden serve did not start.\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}
