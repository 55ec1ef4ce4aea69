/**
 * The one entry point to @peculiar/x509. Version 2 of that library resolves its ASN.1
 * parsers through tsyringe, which needs the Reflect metadata API; loading the polyfill here
 * means every importer gets a working library without remembering the side import.
 */
import 'reflect-metadata';

export * from '@peculiar/x509';
