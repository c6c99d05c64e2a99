//! The CEL value of a list with x-kubernetes-list-type set or map, as upstream's: a list like any
//! other, except that `==` ignores order (a set: the same elements; a map list: the same entries by
//! key) and `+` merges (a set: a union; a map list: the right side's entries replace same-keyed
//! ones in place, new ones are appended).

use super::lib::elements;
use super::types::ListType;
use cel::common::traits::{Adder, Container, Indexer, Iterable, Sizer, Zeroer};
use cel::common::types::{CelList, CelString, Type, LIST_TYPE};
use cel::common::value::{Builtin, BuiltinRef, CowVal, Val};
use cel::ExecutionError;

#[derive(Clone, Debug)]
pub struct KeyedList<'v> {
    list: CelList<'v>,
    /// `Set`, or `Map` with the escaped key fields.
    kind: ListType,
}

impl<'v> KeyedList<'v> {
    pub fn new(items: Vec<Box<dyn Val + 'v>>, kind: ListType) -> Self {
        KeyedList {
            list: CelList::from(items),
            kind,
        }
    }

    /// Whether `a` and `b` are the same entry of this list: equal elements of a set, or map-list
    /// items with equal keys.
    fn same_entry(&self, a: &dyn Val, b: &dyn Val) -> bool {
        match &self.kind {
            ListType::Map(keys) => keys.iter().all(|k| match (field(a, k), field(b, k)) {
                (Some(x), Some(y)) => x.equals(y.as_ref()),
                (None, None) => true,
                _ => false,
            }),
            _ => a.equals(b),
        }
    }
}

/// The field `key` of a map-list item.
fn field<'b>(item: &'b dyn Val, key: &str) -> Option<CowVal<'b, 'b>> {
    item.as_indexer()?.get(&CelString::from(key)).ok()
}

impl Val for KeyedList<'_> {
    fn get_type(&self) -> &Type {
        &LIST_TYPE
    }

    fn cel_type() -> &'static Type {
        &LIST_TYPE
    }

    fn as_adder<'b, 'w>(&'b self) -> Option<&'b (dyn Adder + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }

    fn as_container(&self) -> Option<&dyn Container> {
        self.list.as_container()
    }

    fn as_indexer<'b, 'w>(&'b self) -> Option<&'b (dyn Indexer + 'w)>
    where
        Self: 'w,
    {
        self.list.as_indexer()
    }

    fn into_indexer<'w>(self: Box<Self>) -> Option<Box<dyn Indexer + 'w>>
    where
        Self: 'w,
    {
        Box::new(self.list).into_indexer()
    }

    fn as_iterable<'b, 'w>(&'b self) -> Option<&'b (dyn Iterable + 'w)>
    where
        Self: 'w,
    {
        self.list.as_iterable()
    }

    fn as_sizer(&self) -> Option<&dyn Sizer> {
        self.list.as_sizer()
    }

    fn as_zeroer(&self) -> Option<&dyn Zeroer> {
        self.list.as_zeroer()
    }

    fn equals(&self, other: &dyn Val) -> bool {
        let Ok(theirs) = elements(other) else {
            return false;
        };
        let ours = self.list.inner();
        ours.len() == theirs.len()
            && theirs.iter().all(|t| {
                ours.iter()
                    .find(|o| self.same_entry(o.as_ref(), *t))
                    .is_some_and(|o| o.equals(*t))
            })
    }

    fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
    where
        Self: 'w,
    {
        Box::new(self.clone())
    }

    fn as_builtin<'b, 'w>(&'b self) -> BuiltinRef<'b, 'w>
    where
        Self: 'w,
    {
        BuiltinRef::List(&self.list)
    }

    fn into_builtin<'w>(self: Box<Self>) -> Option<Builtin<'w>>
    where
        Self: 'w,
    {
        Some(Builtin::List(self.list))
    }
}

impl Adder for KeyedList<'_> {
    fn add<'b, 'w>(&'b self, rhs: &(dyn Val + 'w)) -> Result<CowVal<'b, 'w>, ExecutionError>
    where
        Self: 'w,
    {
        let theirs = elements(rhs).map_err(|_| {
            ExecutionError::no_such_overload("_+_", vec!["list".into(), rhs.get_type().name().to_owned()])
        })?;
        let mut items: Vec<Box<dyn Val + 'w>> = self.list.inner().iter().map(|i| i.clone_as_boxed()).collect();
        for t in theirs {
            match items.iter().position(|o| self.same_entry(o.as_ref(), t)) {
                Some(at) if matches!(self.kind, ListType::Map(_)) => items[at] = t.clone_as_boxed(),
                Some(_) => {}
                None => items.push(t.clone_as_boxed()),
            }
        }
        Ok(CowVal::owned(KeyedList::new(items, self.kind.clone())))
    }
}
