import Hummingbird
import WardenCore

/// `/healthz` (the process answers), `/readyz` (the store answers too) and `/metrics` (Prometheus text).
struct HealthController {
    let isReady: @Sendable () async -> Bool
    let metricsText: @Sendable () -> String

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/healthz", "health", "Liveness: the process is serving", permission: nil,
                success: (200, "Health")
            ) {
                _, _ in try JSONResponse.make(["status": "ok"])
            },
            APIRoute(
                .get, "/readyz", "ready", "Readiness: the store answers", permission: nil, success: (200, "Health")
            ) { _, _ in
                guard await isReady() else {
                    throw WardenError(.storeUnavailable, "The store does not answer yet.")
                }
                return try JSONResponse.make(["status": "ready"])
            },
            APIRoute(
                .get, "/metrics", "metrics", "Prometheus metrics", permission: .metricsRead, success: (200, "Metrics")
            ) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                    body: .init(byteBuffer: ByteBuffer(string: metricsText())))
            },
        ]
    }
}
