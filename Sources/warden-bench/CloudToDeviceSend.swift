import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL

/// A cloud-to-device send through the management API, as the scenarios make it: the body carries its send
/// time (uptime nanoseconds), so that the device can time the trip.
struct CloudToDeviceSend {
    let api: String
    let tenant: String
    let token: String

    func request(to device: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: "\(api)/api/v1/tenants/\(tenant)/devices/\(device)/c2d")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: "{\"body\":\"\(NIODeadline.now().uptimeNanoseconds)\"}"))
        return request
    }

    /// An HTTP client that trusts `ca` (the system's roots without it).
    static func client(trusting ca: String?) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) }
        return HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(tlsConfiguration: tls, connectionPool: .init(idleTimeout: .seconds(60))))
    }
}
