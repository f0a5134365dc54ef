import Hummingbird
import WardenCore

/// `/api/v1/master-key`: which master key seals the secrets at rest, and its rotation; `/api/v1/backup`: an
/// encrypted copy of what the data directory needs (platform administrators).
struct MasterKeyController {
    let masterKey: any MasterKeyManaging
    let backup: (any BackupMaking)?

    var routes: [APIRoute] {
        [
            APIRoute(
                .get, "/api/v1/master-key", "getMasterKey",
                "The master key's identifier (never the key), where it is kept, and whether a rotation runs",
                permission: .platformManage, success: (200, "MasterKey")
            ) { _, _ in
                try JSONResponse.make(masterKey.status())
            },
            APIRoute(
                .post, "/api/v1/master-key/rotate", "rotateMasterKey",
                "Seal every secret at rest again under a new master key, online; answers when the old key is gone",
                permission: .platformManage, success: (200, "MasterKeyRotation")
            ) { _, context in
                let report = try await masterKey.rotate()
                context.auditDetail("key.id", report.keyID)
                context.auditDetail("key.previous", report.previousKeyID)
                context.auditDetail("resealed", "\(report.resealed.values.reduce(0, +))")
                return try JSONResponse.make(report)
            },
            APIRoute(
                .post, "/api/v1/backup", "createBackup",
                "An online, consistent, encrypted backup (the database and what the data directory needs), streamed; sealed under a key derived from the master key, or from the passphrase given (then it carries the master key)",
                permission: .platformManage, request: "CreateBackup", success: (200, nil)
            ) { request, context in
                guard let backup else { throw WardenError(.internalError, "This server makes no backups.") }
                let body = try await request.decodeJSON(CreateBackupRequest.self, context)
                let prepared = try await backup.prepareBackup(
                    passphrase: body.passphrase.map { SecretBytes(Array($0.utf8)) })
                context.auditDetail("key", body.passphrase == nil ? "master-key" : "passphrase")
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "application/octet-stream",
                        .contentDisposition: "attachment; filename=\"warden.backup\"",
                    ],
                    body: ResponseBody { writer in
                        try await prepared.write { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
                        try await writer.finish(nil)
                    })
            },
        ]
    }
}

/// `POST /api/v1/backup`.
struct CreateBackupRequest: APIRequestBody {
    static let fields: Set<String> = ["passphrase"]
    /// Absent: sealed under a key derived from the master key.
    let passphrase: String?
}
