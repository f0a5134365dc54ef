import Crypto
import Foundation
public import WardenCore

/// The keyed hash chain: each record's link is HMAC-SHA256(key, previous link ‖ the record's canonical bytes).
///
/// The key is derived from the master key, so someone who can edit the database but not read the master key
/// cannot forge a link: changing, removing, inserting or swapping a record breaks every link from there on.
public struct AuditChain: Sendable {
    private let key: SymmetricKey
    /// HMAC already keyed: each link copies it instead of hashing the key's pads again.
    private let keyed: HMAC<SHA256>
    /// The link before the first record.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// The label the chain key is derived from the master key under (`MasterKey.derivedKey(label:)`).
    public static let keyLabel = "warden.audit.chain.v1"

    /// A chain under `key`, a 256-bit key derived from the master key.
    public init(key: SecretBytes) {
        self.key = SymmetricKey(data: key.bytes)
        self.keyed = HMAC<SHA256>(key: self.key)
    }

    /// The link of `record` after `previous`.
    public func link(_ record: AuditRecord, after previous: [UInt8]) -> [UInt8] {
        var mac = keyed
        mac.update(data: previous)
        mac.update(data: Self.canonicalBytes(record))
        return Array(mac.finalize())
    }

    /// A MAC over the last link, for the head file kept outside the database (tail truncation).
    public func seal(head sequence: Int64, link: [UInt8]) -> [UInt8] {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Array("head:\(sequence):".utf8))
        mac.update(data: link)
        return Array(mac.finalize())
    }

    /// Every field, length-prefixed, in a fixed order; details sorted by name.
    static func canonicalBytes(_ record: AuditRecord) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        func append(_ text: String?) {
            guard let text else {
                bytes.append(0)
                return
            }
            bytes.append(1)
            let utf8 = Array(text.utf8)
            // total: a field's length; records are far below 4 GiB.
            withUnsafeBytes(of: UInt32(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        withUnsafeBytes(of: record.sequence.bigEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: record.at.bigEndian) { bytes.append(contentsOf: $0) }
        append(record.tenant?.rawValue)
        append(record.actorKind)
        append(record.actor)
        append(record.sourceIP)
        append(record.action)
        append(record.target)
        append(record.outcome.rawValue)
        append(record.reason)
        append(record.referenceID)
        for (name, value) in record.details.sorted(by: { $0.key < $1.key }) {
            append(name)
            append(value)
        }
        return bytes
    }
}
