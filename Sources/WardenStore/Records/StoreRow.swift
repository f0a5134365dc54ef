import Foundation
import GRDB
import PostgresNIO

/// A fetched row read by column name, whichever engine fetched it, so that turning rows into domain values is
/// written once for both. The type asked for picks the overload: `let name: String = try row.value("name")`.
protocol StoreRow {
    func value(_ column: String) throws -> String
    func value(_ column: String) throws -> String?
    func value(_ column: String) throws -> Int
    func value(_ column: String) throws -> Int?
    func value(_ column: String) throws -> Int64
    func value(_ column: String) throws -> Int64?
    func value(_ column: String) throws -> Bool
    func value(_ column: String) throws -> Double
    func value(_ column: String) throws -> Double?
    func value(_ column: String) throws -> Date
    func value(_ column: String) throws -> Date?
    func value(_ column: String) throws -> Data
    func value(_ column: String) throws -> Data?
}

extension Row: StoreRow {
    func value(_ column: String) throws -> String { try decode(forColumn: column) }
    func value(_ column: String) throws -> String? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Int { try decode(forColumn: column) }
    func value(_ column: String) throws -> Int? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Int64 { try decode(forColumn: column) }
    func value(_ column: String) throws -> Int64? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Bool { try decode(forColumn: column) }
    func value(_ column: String) throws -> Double { try decode(forColumn: column) }
    func value(_ column: String) throws -> Double? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Date { try decode(forColumn: column) }
    func value(_ column: String) throws -> Date? { try decode(forColumn: column) }
    func value(_ column: String) throws -> Data { try decode(forColumn: column) }
    func value(_ column: String) throws -> Data? { try decode(forColumn: column) }
}

extension PostgresRandomAccessRow: StoreRow {
    func value(_ column: String) throws -> String { try self[column].decode(String.self) }
    func value(_ column: String) throws -> String? { try self[column].decode(String?.self) }
    func value(_ column: String) throws -> Int { try self[column].decode(Int.self) }
    func value(_ column: String) throws -> Int? { try self[column].decode(Int?.self) }
    func value(_ column: String) throws -> Int64 { try self[column].decode(Int64.self) }
    func value(_ column: String) throws -> Int64? { try self[column].decode(Int64?.self) }
    func value(_ column: String) throws -> Bool { try self[column].decode(Bool.self) }
    func value(_ column: String) throws -> Double { try self[column].decode(Double.self) }
    func value(_ column: String) throws -> Double? { try self[column].decode(Double?.self) }
    func value(_ column: String) throws -> Date { try self[column].decode(Date.self) }
    func value(_ column: String) throws -> Date? { try self[column].decode(Date?.self) }
    func value(_ column: String) throws -> Data { try self[column].decode(Data.self) }
    func value(_ column: String) throws -> Data? { try self[column].decode(Data?.self) }
}
