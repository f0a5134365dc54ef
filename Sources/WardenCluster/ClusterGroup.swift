import Crypto
public import WardenBroker
public import WardenCore

/// A shared subscription group's identity between nodes: the first 16 bytes of SHA-256 over its tenant, share
/// name and filter (each followed by a zero byte, which none of them contains). Envelopes name the groups a
/// publishing node served by it, and the nodes with members of a group subscribe in the NATS queue group named
/// after it, so that each message reaches one of them.
public struct ClusterGroupID: Sendable, Hashable {
    static let length = 16
    let bytes: [UInt8]

    init?(bytes: [UInt8]) {
        guard bytes.count == Self.length else { return nil }
        self.bytes = bytes
    }

    public init(_ group: SharedGroup, in tenantID: TenantID) {
        var hash = SHA256()
        for part in [tenantID.rawValue, group.shareName, group.filter] {
            hash.update(data: Array(part.utf8) + [0])
        }
        bytes = Array(hash.finalize().prefix(Self.length))
    }

    /// The NATS queue group of the group's members.
    var queue: String { "g" + Hex.encode(bytes) }
}
