import Foundation
import WardenCore

/// Encodes and decodes the JSON text columns (attributes, lists, rules) with stable key order.
enum JSONColumn {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String, column: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw WardenError(.storeUnavailable, "The stored \(column) is not valid: \(error).")
        }
    }
}
