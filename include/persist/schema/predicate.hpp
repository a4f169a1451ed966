// persist/schema/predicate.hpp: typed WHERE clauses. Values are bound, never spliced.
//
//   using namespace persist::schema;
//   select<Users>(tx, col<&User::email> == "a@x" || col<&User::name>.is_null(),
//                 order_by(col<&User::id>.desc()), Page{.limit = 10});
//
// A comparison between a column and a value of another kind (a text column with a number,
// say) does not compile; the message names both types.
#pragma once

#include "persist/error.hpp"
#include "persist/schema/table.hpp"
#include "persist/value.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace persist::schema {

namespace detail {
template <class Column, class Value>
constexpr bool comparable() {
    using C = std::remove_cvref_t<Column>;
    using V = std::remove_cvref_t<Value>;
    if constexpr (std::is_same_v<C, V>) return true;
    else if constexpr (std::is_enum_v<C> || std::is_enum_v<V>) return false;
    else if constexpr (std::same_as<C, bool> || std::same_as<V, bool>) return false;
    else if constexpr (std::is_arithmetic_v<C> && std::is_arithmetic_v<V>) return true;
    else if constexpr (std::same_as<C, std::string>) return std::convertible_to<V, std::string_view>;
    else return std::convertible_to<V, C>;
}

template <class ColumnType, class ValueType, bool Comparable>
struct check_comparable {
    static_assert(Comparable, "persist: a column is compared with a value of another type (the column's type comes "
                              "first above, the value's second); compare with a value of the column's type");
    static constexpr bool value = true;
};

// The bound form of a value compared with a column of type C.
template <class C, class V>
auto bound(const V& value) {
    if constexpr (std::is_pointer_v<V>) // a const char* that is null: reading it would crash
        if (value == nullptr)
            throw usage_error("a column was compared with (or set to) a null const char*; for NULL write "
                              "col<...>.is_null() or col<...>.to_null(), otherwise pass the text");
    if constexpr (std::is_enum_v<C>) return static_cast<std::underlying_type_t<C>>(value);
    else if constexpr (std::same_as<C, std::string>) return std::string_view(value);
    else if constexpr (std::is_arithmetic_v<C>) return static_cast<std::conditional_t<std::is_floating_point_v<C> || std::is_floating_point_v<V>, double, std::int64_t>>(value);
    else return column_type<C>::to_stored(value);
}

template <class T, auto Member>
std::string column_name() {
    static_assert(T::template has_member<Member>(), "persist: the predicate names a member that is not a column of this table");
    std::string name;
    detail::apply_types<typename T::columns>([&](auto... c) {
        ((same_member<decltype(c)::member>(Member) ? (void)(name = std::string(decltype(c)::name)) : void()), ...);
    });
    return name;
}
} // namespace detail

/// A predicate node: render<T, D>(index) gives SQL with placeholders; values() the bound values.
template <class Render, class... Values>
struct Predicate {
    Render render_fn;
    std::tuple<Values...> bound;
    template <class T, class D>
    std::string render(int& index) const { return render_fn.template operator()<T, D>(index); }
    const std::tuple<Values...>& values() const { return bound; }
};

template <class R, class... V>
Predicate(R, std::tuple<V...>) -> Predicate<R, V...>;

template <class L, class R>
auto combine(const L& left, const R& right, const char* op) {
    auto render = [left, right, op]<class T, class D>(int& index) {
        std::string l = left.template render<T, D>(index);
        std::string r = right.template render<T, D>(index);
        return "(" + l + " " + op + " " + r + ")";
    };
    return Predicate{render, std::tuple_cat(left.values(), right.values())};
}

template <class... A, class... B>
auto operator&&(const Predicate<A...>& left, const Predicate<B...>& right) { return combine(left, right, "AND"); }
template <class... A, class... B>
auto operator||(const Predicate<A...>& left, const Predicate<B...>& right) { return combine(left, right, "OR"); }

/// One `column = value` of an update's set(...): made by col<&Row::member>.to(value) or
/// .to_null() (see persist/schema/set_update.hpp).
template <auto Member, class Bound>
struct Assignment {
    Bound value;
};

namespace detail {
template <class W>
struct is_predicate : std::false_type {};
template <class R, class... V>
struct is_predicate<Predicate<R, V...>> : std::true_type {};

template <class ColumnType, class ValueType, bool Assignable>
struct check_assignable {
    static_assert(Assignable, "persist: set(...) gives a column a value of another type (the column's type comes first "
                              "above, the value's second); assign a value of the column's type");
    static constexpr bool value = true;
};

template <bool Optional>
struct check_nullable {
    static_assert(Optional, "persist: to_null() sets a column to NULL, but this column's member is not a std::optional; "
                            "make the member optional (and the column nullable) or assign a value");
    static constexpr bool value = true;
};
} // namespace detail

/// An ordering term: col<&Row::member>.asc() / .desc().
template <auto Member, bool Ascending>
struct Order {};

/// A column in a predicate.
template <auto Member>
struct ColumnRef {
    using member_type = typename detail::member_traits<std::remove_cv_t<decltype(Member)>>::type;
    using value_type = typename unwrap_optional<member_type>::type;
    static_assert(!SealedColumn<value_type>,
                  "persist: an encrypted column cannot be compared, ordered or set(...): its stored bytes are random. "
                  "Filter on a plain column; change an encrypted value with update()");

    template <class V>
    auto compare(const V& value, const char* op) const {
        if constexpr (!detail::comparable<value_type, V>()) {
            // Report once and stop: nothing below would compile for this value.
            static_assert(detail::check_comparable<value_type, V, false>::value);
            return all_rows_placeholder();
        } else {
            return typed_compare(value, op);
        }
    }

private:
    static auto all_rows_placeholder() {
        auto render = []<class T, class D>(int&) { return std::string("TRUE"); };
        return Predicate{render, std::tuple<>{}};
    }
    template <class V>
    auto typed_compare(const V& value, const char* op) const {
        auto render = [op]<class T, class D>(int& index) {
            return D::quote_identifier(detail::column_name<T, Member>()) + " " + op + " " + D::placeholder(++index);
        };
        return Predicate{render, std::make_tuple(detail::bound<value_type>(value))};
    }

public:
    template <class V> auto operator==(const V& v) const { return compare(v, "="); }
    template <class V> auto operator!=(const V& v) const { return compare(v, "<>"); }
    template <class V> auto operator<(const V& v) const { return compare(v, "<"); }
    template <class V> auto operator<=(const V& v) const { return compare(v, "<="); }
    template <class V> auto operator>(const V& v) const { return compare(v, ">"); }
    template <class V> auto operator>=(const V& v) const { return compare(v, ">="); }

    /// LIKE with a bound pattern; only for text columns.
    auto like(std::string_view pattern) const {
        static_assert(detail::check_comparable<value_type, std::string_view, std::same_as<value_type, std::string>>::value);
        return compare(pattern, "LIKE");
    }
    auto is_null() const { return null_test("IS NULL"); }
    auto is_not_null() const { return null_test("IS NOT NULL"); }

    /// IN (...) over the given values (an empty list matches nothing).
    template <class V>
    auto in(const std::vector<V>& values) const {
        static_assert(detail::check_comparable<value_type, V, detail::comparable<value_type, V>()>::value);
        using B = decltype(detail::bound<value_type>(std::declval<const V&>()));
        Many<std::conditional_t<std::is_same_v<B, std::string_view>, std::string, B>> bound_values;
        for (const auto& v : values) bound_values.values.emplace_back(detail::bound<value_type>(v));
        const std::size_t count = bound_values.values.size();
        auto render = [count]<class T, class D>(int& index) {
            if (count == 0) return std::string("FALSE");
            std::string text = D::quote_identifier(detail::column_name<T, Member>()) + " IN (";
            for (std::size_t i = 0; i < count; ++i) text += (i ? ", " : "") + D::placeholder(++index);
            return text + ")";
        };
        return Predicate{render, std::make_tuple(std::move(bound_values))};
    }

    /// `column = value` for update(tx, set(...), where); the value is checked against the
    /// column's type as in a comparison, and kept by value.
    template <class V>
    auto to(const V& value) const {
        if constexpr (!detail::comparable<value_type, V>()) {
            static_assert(detail::check_assignable<value_type, V, false>::value);
            return Assignment<Member, std::nullptr_t>{nullptr};
        } else {
            using B = decltype(detail::bound<value_type>(value));
            using Kept = std::conditional_t<std::is_same_v<B, std::string_view>, std::string, B>;
            return Assignment<Member, Kept>{Kept(detail::bound<value_type>(value))};
        }
    }
    /// `column = NULL`; only for a std::optional member.
    auto to_null() const {
        static_assert(detail::check_nullable<persist::detail::is_optional<member_type>::value>::value);
        return Assignment<Member, std::nullptr_t>{nullptr};
    }

    Order<Member, true> asc() const { return {}; }
    Order<Member, false> desc() const { return {}; }

private:
    auto null_test(const char* test) const {
        auto render = [test]<class T, class D>(int&) {
            return D::quote_identifier(detail::column_name<T, Member>()) + " " + test;
        };
        return Predicate{render, std::tuple<>{}};
    }
};

/// The column mapping `Member`, for predicates and ordering.
template <auto Member>
inline constexpr ColumnRef<Member> col{};

/// Matches every row.
inline auto all_rows() {
    auto render = []<class T, class D>(int&) { return std::string("TRUE"); };
    return Predicate{render, std::tuple<>{}};
}

/// ORDER BY terms, in order.
template <class... Orders>
struct OrderBy {};
template <auto... Members, bool... Ascending>
OrderBy<Order<Members, Ascending>...> order_by(Order<Members, Ascending>...) { return {}; }

/// LIMIT / OFFSET.
struct Page {
    std::optional<std::int64_t> limit;
    std::int64_t offset = 0;
};

} // namespace persist::schema
