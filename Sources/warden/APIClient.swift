import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import WardenAPI
import WardenCore

/// The CLI's HTTPS client of the management API: bearer credential, the data directory's CA, problem
/// bodies turned into one-line errors and exit codes.
struct APIClient {
    let baseURL: String
    let token: String
    let http: HTTPClient

    init(baseURL: String, token: String, caFile: String?) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw CLIFailure("Cannot read the CA certificate \(caFile).", exitCode: CLIExitCode.configuration)
            }
        }
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    /// Sends a request and returns the body of a 2xx response; anything else becomes a `CLIFailure`. The body is
    /// `body` as JSON, or `raw` as it is (a document sent byte for byte) with `contentType`.
    func send(
        _ method: HTTPMethod, _ path: String, body: [String: Any]? = nil, raw: Data? = nil,
        contentType: String = "application/json", ifMatch: String? = nil, timeout: TimeAmount = .seconds(30)
    ) async throws -> Data {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if !token.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "application/json")
        if let ifMatch { request.headers.add(name: "If-Match", value: "\"\(ifMatch)\"") }
        if let bytes = try raw ?? body.map({ try JSONSerialization.data(withJSONObject: $0) }) {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw CLIFailure(
                "Cannot reach the Warden server at \(baseURL) (\(Self.describe(error))). Is 'warden serve' running?",
                exitCode: CLIExitCode.unreachable)
        }
        let data = Data((try await response.body.collect(upTo: 16 * 1024 * 1024)).readableBytesView)
        guard (200..<300).contains(response.status.code) else {
            // total: an HTTP status code.
            throw Self.failure(status: Int(response.status.code), body: data)
        }
        return data
    }

    /// Sends a request and writes the body of a 2xx response to `file` as it comes (mode 0600, through a
    /// temporary file renamed at the end, so a failure leaves no partial file); returns its size.
    func download(_ method: HTTPMethod, _ path: String, body: [String: Any], to file: String) async throws -> Int {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if !token.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await streaming(request)
        let partial = file + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: partial)
        else { throw CLIFailure("Cannot write \(partial).", exitCode: CLIExitCode.unexpected) }
        var size = 0
        do {
            for try await chunk in response.body {
                try handle.write(contentsOf: chunk.readableBytesView)
                size += chunk.readableBytes
            }
            try handle.synchronize()
            try handle.close()
            if FileManager.default.fileExists(atPath: file) { try FileManager.default.removeItem(atPath: file) }
            try FileManager.default.moveItem(atPath: partial, toPath: file)
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: partial)
            throw CLIFailure(
                "The backup did not arrive whole (\(Self.describe(error))).", exitCode: CLIExitCode.unexpected)
        }
        return size
    }

    /// Sends a request whose answer is read as it comes (no deadline: a stream, a backup); anything but a 2xx
    /// answer becomes a `CLIFailure`.
    private func streaming(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: .distantFuture)
        } catch {
            throw CLIFailure(
                "Cannot reach the Warden server at \(baseURL) (\(Self.describe(error))). Is 'warden serve' running?",
                exitCode: CLIExitCode.unreachable)
        }
        guard (200..<300).contains(response.status.code) else {
            let data = Data((try await response.body.collect(upTo: 1024 * 1024)).readableBytesView)
            // total: an HTTP status code.
            throw Self.failure(status: Int(response.status.code), body: data)
        }
        return response
    }

    /// `POST /oauth/token` with a form; RFC 6749 errors become credential failures.
    func token(form: [String: String]) async throws -> TokenResponse {
        var request = HTTPClientRequest(url: baseURL + "/oauth/token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let encoded = form.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.segment($0.value))" }.joined(
            separator: "&")
        request.body = .bytes(ByteBuffer(string: encoded))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
        } catch {
            throw CLIFailure(
                "Cannot reach the Warden server at \(baseURL) (\(Self.describe(error))).",
                exitCode: CLIExitCode.unreachable)
        }
        let data = Data((try await response.body.collect(upTo: 1024 * 1024)).readableBytesView)
        guard response.status == .ok else {
            struct OAuthError: Decodable {
                let description: String?
                enum CodingKeys: String, CodingKey { case description = "error_description" }
            }
            let error = try? JSONDecoder().decode(OAuthError.self, from: data)
            throw CLIFailure(
                "The saved session cannot be renewed (\(error?.description ?? "HTTP \(response.status.code)")); "
                    + "run 'warden login' again.", exitCode: CLIExitCode.credential)
        }
        return try decode(TokenResponse.self, data)
    }

    /// Follows a server-sent event stream, handing `event` the data of each event, until the server ends it.
    func follow(_ path: String, event: (String) throws -> Void) async throws {
        var request = HTTPClientRequest(url: baseURL + path)
        if !token.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await streaming(request)
        var pending = ""
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                let data = block.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) }
                if !data.isEmpty { try event(data.joined(separator: "\n")) }
            }
        }
    }

    /// Decodes a JSON body.
    /// Sends a request and prints its answer: the JSON as it came with `--json`, else `describe` of the decoded
    /// resource.
    func show<Resource: Decodable>(
        _ method: HTTPMethod, _ path: String, body: [String: Any]? = nil, ifMatch: String? = nil,
        as type: Resource.Type, to output: Output, _ describe: (Resource) throws -> Void
    ) async throws {
        let data = try await send(method, path, body: body, ifMatch: ifMatch)
        if output.isJSON { return output.json(data) }
        try describe(try decode(type, data))
    }

    /// Sends a request and prints its answer: the JSON as it came with `--json`, else what `describe` says.
    func show(
        _ method: HTTPMethod, _ path: String, body: [String: Any]? = nil, to output: Output,
        _ describe: () throws -> Void
    ) async throws {
        let data = try await send(method, path, body: body)
        if output.isJSON { return output.json(data) }
        try describe()
    }

    func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(type, from: data)
        } catch {
            throw CLIFailure(
                "The server's answer is not what this CLI expects: \(error).", exitCode: CLIExitCode.unexpected)
        }
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    private static func failure(status: Int, body: Data) -> CLIFailure {
        guard let problem = try? JSONDecoder().decode(Problem.self, from: body) else {
            return CLIFailure("The server answered HTTP \(status).", exitCode: CLIExitCode.serverError)
        }
        let kind = WardenError.Code.all.first { $0.name == problem.code }?.kind ?? .internal
        return CLIFailure(
            "\(problem.detail) [\(problem.code), reference \(problem.referenceID)]",
            exitCode: CLIExitCode.code(for: kind))
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("handshake") || text.contains("NIOSSL") { return "TLS failed: \(text)" }
        return text
    }
}

extension APIClient {
    /// Runs `body` with a client made from `options` (without a credential when `anonymous`, for signing in),
    /// printing failures and exiting with their code.
    static func run(
        _ options: ClientOptions, anonymous: Bool = false, _ body: (APIClient, Output) async throws -> Void
    ) async throws {
        let client: APIClient
        do {
            client = try anonymous ? options.makeAnonymousClient() : await options.makeClient()
        } catch let failure as CLIFailure {
            Output.error(failure.message)
            throw failure.exitCode
        }
        do {
            try await body(client, options.output)
            await client.shutdown()
        } catch let failure as CLIFailure {
            await client.shutdown()
            Output.error(failure.message)
            throw failure.exitCode
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// A path segment with every reserved character escaped (device ids may contain `#`, `?`, `%`…).
    static func segment(_ text: some StringProtocol) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? String(text)
    }
}
